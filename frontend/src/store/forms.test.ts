import { describe, expect, it } from "vitest";
import { createStore, persistChanges } from ".";
import reducer, {
  canRedo,
  canUndo,
  draftsOf,
  edited,
  formsFromDrafts,
  MERGE_WINDOW_MS,
  redone,
  replaced,
  undone,
  type FormsState,
} from "./forms";
import { loadPersisted, savePersisted, type Persisted } from "./persist";

const KEY = "workflow:simulation";
const run = (state: FormsState, ...actions: Parameters<typeof reducer>[1][]) =>
  actions.reduce(reducer, state);

describe("form edit history", () => {
  it("undoes and redoes edits in order", () => {
    let state = run(
      {},
      edited({ key: KEY, data: { steps: 1 }, at: 0 }),
      edited({ key: KEY, data: { steps: 2 }, at: 5_000 }),
      edited({ key: KEY, data: { steps: 3 }, at: 10_000 }),
    );
    expect(state[KEY]!.present).toEqual({ steps: 3 });
    state = run(state, undone(KEY), undone(KEY));
    expect(state[KEY]!.present).toEqual({ steps: 1 });
    expect(canRedo(state[KEY])).toBe(true);
    state = run(state, redone(KEY));
    expect(state[KEY]!.present).toEqual({ steps: 2 });
    state = run(state, undone(KEY), undone(KEY));
    expect(state[KEY]!.present).toEqual({});
    expect(canUndo(state[KEY])).toBe(false);
    expect(run(state, undone(KEY))).toEqual(state);
  });

  it("merges a burst of typing into one undo step", () => {
    let state = run({}, edited({ key: KEY, data: { text: "h" }, at: 1_000 }));
    for (const [i, text] of ["he", "hel", "hell", "hello"].entries()) {
      state = run(state, edited({ key: KEY, data: { text }, at: 1_000 + (i + 1) * 100 }));
    }
    state = run(state, edited({ key: KEY, data: { text: "hello!" }, at: 5_000 + MERGE_WINDOW_MS }));
    expect(run(state, undone(KEY))[KEY]!.present).toEqual({ text: "hello" });
    expect(run(state, undone(KEY), undone(KEY))[KEY]!.present).toEqual({});
  });

  it("drops the redo branch on a new edit and ignores edits that change nothing", () => {
    let state = run(
      {},
      edited({ key: KEY, data: { a: 1 }, at: 0 }),
      edited({ key: KEY, data: { a: 2 }, at: 5_000 }),
      undone(KEY),
    );
    state = run(state, edited({ key: KEY, data: { a: 9 }, at: 10_000 }));
    expect(canRedo(state[KEY])).toBe(false);
    expect(run(state, edited({ key: KEY, data: { a: 9 }, at: 20_000 }))).toEqual(state);
  });

  it("makes a whole replacement (re-run, routing pre-fill) one undoable step", () => {
    const state = run(
      {},
      edited({ key: KEY, data: { steps: 4 }, at: 0 }),
      replaced({ key: KEY, data: { steps: 20, seed: 7 } }),
    );
    expect(state[KEY]!.present).toEqual({ steps: 20, seed: 7 });
    expect(run(state, undone(KEY))[KEY]!.present).toEqual({ steps: 4 });
  });

  it("keeps forms apart", () => {
    const state = run(
      {},
      edited({ key: "a", data: { x: 1 }, at: 0 }),
      edited({ key: "b", data: { y: 1 }, at: 0 }),
      undone("a"),
    );
    expect(state.a!.present).toEqual({});
    expect(state.b!.present).toEqual({ y: 1 });
  });
});

describe("drafts survive a reload", () => {
  it("persists each form's present value and restores it", async () => {
    const storage = new Map<string, string>();
    const fake = {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, v),
    } as unknown as Storage;
    const saved: Persisted[] = [];
    const store = createStore({ drafts: {}, theme: "system", session: null });
    persistChanges(store, (value) => {
      saved.push(value);
      savePersisted(value, fake);
    });
    store.dispatch(edited({ key: KEY, data: { steps: 12 }, at: 0 }));
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(saved.at(-1)?.drafts).toEqual({ [KEY]: { steps: 12 } });

    const restored = loadPersisted(fake);
    const reloaded = createStore(restored);
    expect(reloaded.getState().forms[KEY]!.present).toEqual({ steps: 12 });
    expect(canUndo(reloaded.getState().forms[KEY])).toBe(false);
  });

  it("starts fresh from unreadable storage", () => {
    const broken = { getItem: () => "{not json" } as unknown as Storage;
    expect(loadPersisted(broken)).toEqual({ drafts: {}, theme: "system", session: null });
  });

  it("only stores forms that have something in them", () => {
    const state = formsFromDrafts({ a: { x: 1 } });
    expect(
      draftsOf({ ...state, empty: { past: [], present: {}, future: [], editedAt: 0 } }),
    ).toEqual({
      a: { x: 1 },
    });
  });
});
