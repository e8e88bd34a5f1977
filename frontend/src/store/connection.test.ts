import { describe, expect, it } from "vitest";
import reducer, {
  browserOnlineChanged,
  indicator,
  reachabilityChanged,
  streamStateChanged,
} from "./connection";

const initial = reducer(undefined, { type: "init" });

describe("the connection indicator", () => {
  it("is connected when idle, live while a stream is open", () => {
    expect(indicator(initial)).toBe("online");
    const live = reducer(initial, streamStateChanged({ key: "execution:1", state: "open" }));
    expect(indicator(live)).toBe("live");
    expect(
      indicator(reducer(live, streamStateChanged({ key: "execution:1", state: "closed" }))),
    ).toBe("online");
  });

  it("says reconnecting while any stream is, and offline when nothing gets through", () => {
    let state = reducer(initial, streamStateChanged({ key: "a", state: "open" }));
    state = reducer(state, streamStateChanged({ key: "b", state: "reconnecting" }));
    expect(indicator(state)).toBe("reconnecting");
    expect(indicator(reducer(initial, reachabilityChanged(false)))).toBe("offline");
    expect(indicator(reducer(state, browserOnlineChanged(false)))).toBe("offline");
  });
});
