import { describe, expect, it } from "vitest";
import { SocketClient, type ServerMessage, type SocketLike } from "./socket";

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close() {
    this.readyState = 3;
    this.onclose?.({});
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** The server accepted the credentials (or needs none). */
  ready() {
    this.receive({ type: "ready", request_id: null, user: { username: "ada" } });
  }
  /** Opened and authenticated. */
  live() {
    this.open();
    this.ready();
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
  receive(message: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function client(token: string | null = "tok") {
  const sockets: FakeSocket[] = [];
  const states: string[] = [];
  const socket = new SocketClient({
    token: () => Promise.resolve(token),
    url: () => "ws://host/api/v1/ws",
    create: (url) => {
      const fake = new FakeSocket(url);
      sockets.push(fake);
      return fake;
    },
    delay: () => 1,
    onState: (state) => states.push(state),
  });
  return { socket, sockets, states };
}

describe("SocketClient", () => {
  it("authenticates with a first auth message, never in the URL, then sends what waited", async () => {
    const { socket, sockets, states } = client();
    socket.connect();
    socket.request({ type: "ping" }, () => {});
    await tick();
    expect(sockets[0]!.url).toBe("ws://host/api/v1/ws");
    expect(sockets[0]!.sent).toEqual([]);
    sockets[0]!.open();
    expect(sockets[0]!.sent).toEqual([{ type: "auth", token: "tok" }]);
    expect(states.at(-1)).toBe("connecting");
    socket.request({ type: "ping" }, () => {}); // still waiting for `ready`
    expect(sockets[0]!.sent).toHaveLength(1);
    sockets[0]!.ready();
    expect(states.at(-1)).toBe("open");
    expect(sockets[0]!.sent).toEqual([
      { type: "auth", token: "tok" },
      { type: "ping", id: "r1" },
      { type: "ping", id: "r2" },
    ]);
  });

  it("sends no auth message without a token (authentication off)", async () => {
    const { socket, sockets } = client(null);
    socket.connect();
    socket.request({ type: "ping" }, () => {});
    await tick();
    sockets[0]!.open();
    expect(sockets[0]!.url).toBe("ws://host/api/v1/ws");
    expect(sockets[0]!.sent).toEqual([]);
    sockets[0]!.ready();
    expect(sockets[0]!.sent).toEqual([{ type: "ping", id: "r1" }]);
  });

  it("falls back to HTTP when the server refuses the credentials before ready", async () => {
    const { socket, sockets, states } = client();
    socket.connect();
    const got: ServerMessage[] = [];
    socket.request({ type: "ping" }, (m) => got.push(m));
    await tick();
    sockets[0]!.open();
    sockets[0]!.drop(); // closed with 4401
    await tick();
    expect(states.at(-1)).toBe("unavailable");
    expect(sockets).toHaveLength(1);
    expect(got[0]?.type).toBe("error");
  });

  it("routes answers by request id and drops replays it has seen", async () => {
    const { socket, sockets } = client();
    socket.connect();
    await tick();
    sockets[0]!.live();
    const a: ServerMessage[] = [];
    const b: ServerMessage[] = [];
    const first = socket.request({ type: "chat.message", content: "hi" }, (m) => a.push(m));
    socket.request({ type: "workflow.execute", workflow: "echo" }, (m) => b.push(m));
    sockets[0]!.receive({
      type: "chunk",
      request_id: first,
      id: "1",
      seq: 1,
      data: { delta: "He" },
    });
    sockets[0]!.receive({
      type: "chunk",
      request_id: first,
      id: "1",
      seq: 1,
      data: { delta: "He" },
    });
    sockets[0]!.receive({ type: "progress", request_id: "r2", id: "1", seq: 1, data: {} });
    expect(a.map((m) => m.type)).toEqual(["chunk"]);
    expect(b.map((m) => m.type)).toEqual(["progress"]);
  });

  it("reconnects after a drop and re-subscribes from the last event seen", async () => {
    const { socket, sockets, states } = client();
    socket.connect();
    await tick();
    sockets[0]!.live();
    const got: ServerMessage[] = [];
    const id = socket.request({ type: "chat.message", content: "hi" }, (m) => got.push(m));
    sockets[0]!.receive({
      type: "typing",
      request_id: id,
      execution_id: "ex1",
      id: "3",
      seq: 3,
      data: {},
    });
    sockets[0]!.drop();
    expect(states.at(-1)).toBe("reconnecting");
    await tick();
    sockets[1]!.open();
    expect(sockets[1]!.sent).toEqual([{ type: "auth", token: "tok" }]);
    sockets[1]!.ready();
    expect(sockets[1]!.sent).toEqual([
      { type: "auth", token: "tok" },
      { type: "subscribe", id, execution_id: "ex1", after: 3 },
    ]);
    sockets[1]!.receive({
      type: "complete",
      request_id: id,
      execution_id: "ex1",
      id: "4",
      seq: 4,
      data: {},
    });
    expect(got.map((m) => m.type)).toEqual(["typing", "complete"]);
    // the turn is over: nothing to re-subscribe to after the next drop
    sockets[1]!.drop();
    await tick();
    sockets[2]!.live();
    expect(sockets[2]!.sent).toEqual([{ type: "auth", token: "tok" }]);
  });

  it("reports a server without a WebSocket as unavailable instead of retrying", async () => {
    const { socket, sockets, states } = client();
    socket.connect();
    const got: ServerMessage[] = [];
    socket.request({ type: "chat.message", content: "hi" }, (m) => got.push(m));
    await tick();
    sockets[0]!.drop();
    await tick();
    expect(states.at(-1)).toBe("unavailable");
    expect(socket.available).toBe(false);
    expect(sockets).toHaveLength(1);
    expect(got[0]?.type).toBe("error");
  });
});
