import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TokenSource } from "../src/api/client";
import { WebSocketFeed, type FeedStatus, type LiveFeed } from "../src/live/feed";
import type { LiveMessage } from "../src/live/model";

class FakeSocket {
  readonly OPEN = 1;
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const tokens: TokenSource = { accessToken: () => "tok", refresh: async () => true };

function fallbackSpy(): LiveFeed & { started: number } {
  const feed = {
    started: 0,
    start: () => {
      feed.started += 1;
      return () => undefined;
    },
  };
  return feed;
}

describe("WebSocketFeed", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("authenticates, subscribes to the user's sites and streams", () => {
    const socket = new FakeSocket();
    const fallback = fallbackSpy();
    const feed = new WebSocketFeed("ws://x/api/v1/live", tokens, () => ["clinic", "bank"], fallback, 4000, () => socket as unknown as WebSocket);
    const messages: LiveMessage[] = [];
    const statuses: FeedStatus[] = [];
    const stop = feed.start((m) => messages.push(m), (s) => statuses.push(s));
    socket.open();
    expect(socket.sent).toEqual([{ type: "auth", token: "tok" }]);
    socket.receive({ type: "ready", user: "admin" });
    expect(socket.sent[1]).toEqual({ type: "subscribe", sites: ["clinic", "bank"] });
    socket.receive({ type: "snapshot", site: "clinic", robots: [], missions: [], alarms: [] });
    socket.receive({ type: "delta", seq: 1, robots: [] });
    expect(messages.map((m) => m.type)).toEqual(["snapshot", "delta"]);
    expect(statuses).toEqual(["connecting", "streaming"]);
    vi.advanceTimersByTime(60_000);
    expect(socket.sent[2]).toEqual({ type: "auth", token: "tok" });
    expect(fallback.started).toBe(0);
    stop();
  });

  it("falls back to polling when the stream never sends a snapshot", () => {
    const socket = new FakeSocket();
    const fallback = fallbackSpy();
    const feed = new WebSocketFeed("ws://x", tokens, () => ["clinic"], fallback, 4000, () => socket as unknown as WebSocket);
    feed.start(() => undefined);
    socket.close(); // e.g. a server without /api/v1/live
    expect(fallback.started).toBe(1);
  });

  it("reconnects after a lost delta", () => {
    const sockets: FakeSocket[] = [];
    const feed = new WebSocketFeed("ws://x", tokens, () => ["clinic"], fallbackSpy(), 4000, () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s as unknown as WebSocket;
    });
    feed.start(() => undefined);
    const first = sockets[0]!;
    first.open();
    first.receive({ type: "ready", user: "u" });
    first.receive({ type: "snapshot", site: "clinic", robots: [] });
    first.receive({ type: "delta", seq: 1 });
    first.receive({ type: "delta", seq: 3 });
    expect(first.readyState).toBe(3);
    vi.advanceTimersByTime(2000);
    expect(sockets).toHaveLength(2);
  });
});
