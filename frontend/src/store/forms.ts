// Form drafts with undo/redo. Each form (one per workflow or tool) keeps its edit history; the
// present value of every form is persisted, so a reload brings the draft back.
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";

export type FormData = Record<string, unknown>;

export interface FormHistory {
  past: FormData[];
  present: FormData;
  future: FormData[];
  /** When the present value was last edited (ms), to merge a burst of typing into one step. */
  editedAt: number;
}

export type FormsState = Record<string, FormHistory>;

export const HISTORY_LIMIT = 100;
/** Edits closer together than this are one undo step (typing a word is one step, not five). */
export const MERGE_WINDOW_MS = 800;

function history(state: FormsState, key: string): FormHistory {
  state[key] ??= { past: [], present: {}, future: [], editedAt: 0 };
  return state[key];
}

const initialState: FormsState = {};

const slice = createSlice({
  name: "forms",
  initialState,
  reducers: {
    /** A change made by the user; `at` is the time of the edit (ms). */
    edited(state, action: PayloadAction<{ key: string; data: FormData; at: number }>) {
      const { key, data, at } = action.payload;
      const form = history(state, key);
      if (JSON.stringify(form.present) === JSON.stringify(data)) return;
      const merge = at - form.editedAt < MERGE_WINDOW_MS && form.past.length > 0;
      if (!merge) {
        form.past.push(form.present);
        if (form.past.length > HISTORY_LIMIT) form.past.shift();
      }
      form.present = data;
      form.future = [];
      form.editedAt = at;
    },
    /** Replace the whole draft (re-run, routing pre-fill); undoable as one step. */
    replaced(state, action: PayloadAction<{ key: string; data: FormData }>) {
      const form = history(state, action.payload.key);
      form.past.push(form.present);
      if (form.past.length > HISTORY_LIMIT) form.past.shift();
      form.present = action.payload.data;
      form.future = [];
      form.editedAt = 0;
    },
    undone(state, action: PayloadAction<string>) {
      const form = state[action.payload];
      const previous = form?.past.pop();
      if (!form || previous === undefined) return;
      form.future.unshift(form.present);
      form.present = previous;
      form.editedAt = 0;
    },
    redone(state, action: PayloadAction<string>) {
      const form = state[action.payload];
      const next = form?.future.shift();
      if (!form || next === undefined) return;
      form.past.push(form.present);
      form.present = next;
      form.editedAt = 0;
    },
  },
});

export const { edited, replaced, undone, redone } = slice.actions;
export default slice.reducer;

export const canUndo = (form: FormHistory | undefined): boolean => (form?.past.length ?? 0) > 0;
export const canRedo = (form: FormHistory | undefined): boolean => (form?.future.length ?? 0) > 0;

/** What is persisted: each form's present value (the history is only for this page's life). */
export function draftsOf(state: FormsState): Record<string, FormData> {
  const drafts: Record<string, FormData> = {};
  for (const [key, form] of Object.entries(state)) {
    if (Object.keys(form.present).length > 0) drafts[key] = form.present;
  }
  return drafts;
}

export function formsFromDrafts(drafts: Record<string, FormData>): FormsState {
  const state: FormsState = {};
  for (const [key, data] of Object.entries(drafts)) {
    state[key] = { past: [], present: data, future: [], editedAt: 0 };
  }
  return state;
}
