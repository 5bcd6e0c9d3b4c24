import { describe, expect, it, vi } from "vitest";
import { ApiClient, fillPath, queryString } from "../src/api/client";
import { ApiError } from "../src/api/problem";
import { loadTokens, refreshDelayMs, Session, tokensFrom, type KeyValueStore } from "../src/auth/session";
import { canDispatch, hasRole, isAdmin, strongestRole } from "../src/auth/roles";

class MemoryStore implements KeyValueStore {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const pair = (n: number) => ({ access_token: `a${n}`, refresh_token: `r${n}`, token_type: "bearer" as const, expires_in: 900 });

describe("session", () => {
  it("signs in with the password grant, keeps the tokens and signs out", async () => {
    const store = new MemoryStore();
    const calls: { url: string; body: string }[] = [];
    const fetchImpl = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ url: String(url), body: String(init?.body) });
      return json(200, pair(1));
    });
    const session = new Session(store, fetchImpl as typeof fetch, () => 1000);
    await session.signIn("ward", "pw d&x");
    expect(calls[0]!.url).toBe("/api/v1/auth/token");
    expect(new URLSearchParams(calls[0]!.body).get("password")).toBe("pw d&x");
    expect(new URLSearchParams(calls[0]!.body).get("grant_type")).toBe("password");
    expect(session.accessToken()).toBe("a1");
    // A reload finds the session again.
    expect(new Session(store, fetchImpl as typeof fetch).username).toBe("ward");
    session.signOut();
    expect(session.signedIn).toBe(false);
    expect(loadTokens(store)).toBeNull();
  });

  it("refreshes once for concurrent callers and ends the session when refused", async () => {
    const store = new MemoryStore();
    store.setItem("fleet.session", JSON.stringify({ ...tokensFrom(pair(1), "ward", 0), expiresAt: 10 ** 13 }));
    let refreshes = 0;
    const fetchImpl = vi.fn(async () => {
      refreshes += 1;
      return refreshes === 1 ? json(200, pair(2)) : json(401, { title: "Unauthorized", status: 401 });
    });
    const session = new Session(store, fetchImpl as typeof fetch);
    const [a, b] = await Promise.all([session.refresh(), session.refresh()]);
    expect([a, b, refreshes]).toEqual([true, true, 1]);
    expect(session.accessToken()).toBe("a2");
    expect(await session.refresh()).toBe(false);
    expect(session.signedIn).toBe(false);
    session.signOut();
  });

  it("keeps the session when the refresh fails for a network reason", async () => {
    const store = new MemoryStore();
    store.setItem("fleet.session", JSON.stringify(tokensFrom(pair(1), "ward", Date.now())));
    const session = new Session(store, (async () => {
      throw new TypeError("network down");
    }) as typeof fetch);
    expect(await session.refresh()).toBe(false);
    expect(session.signedIn).toBe(true);
    session.signOut();
  });

  it("renews a minute before expiry, never sooner than 5 s", () => {
    const tokens = tokensFrom(pair(1), "u", 0);
    expect(refreshDelayMs(tokens, 0)).toBe(840_000);
    expect(refreshDelayMs(tokens, 899_000)).toBe(5_000);
  });

  it("drops a damaged stored session", () => {
    const store = new MemoryStore();
    store.setItem("fleet.session", "{not json");
    expect(loadTokens(store)).toBeNull();
    expect(store.getItem("fleet.session")).toBeNull();
  });
});

describe("api client", () => {
  it("fills path parameters and builds queries without empty values", () => {
    expect(fillPath("/api/v1/sites/{site_id}/levels/{level}/plan.png", { site_id: "a b", level: "L1" })).toBe(
      "/api/v1/sites/a%20b/levels/L1/plan.png",
    );
    expect(() => fillPath("/x/{id}", {})).toThrow(/id/);
    expect(queryString({ a: 1, b: undefined, c: "", d: "x y", e: null })).toBe("?a=1&d=x+y");
    expect(queryString({})).toBe("");
  });

  it("retries once after a refresh on 401, and turns problems into ApiError", async () => {
    let token = "old";
    const tokens = { accessToken: () => token, refresh: vi.fn(async () => ((token = "new"), true)) };
    const seen: string[] = [];
    const fetchImpl = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      const auth = new Headers(init?.headers).get("Authorization") ?? "";
      seen.push(auth);
      if (auth === "Bearer old") return json(401, { status: 401, title: "Unauthorized" });
      return json(422, { status: 422, title: "Unprocessable Entity", errors: [{ field: "guidance.to", message: "same" }] });
    });
    const client = new ApiClient(tokens, "", fetchImpl as typeof fetch);
    const error = await client.post("/api/v1/missions", { json: {} as never }).catch((e: unknown) => e);
    expect(seen).toEqual(["Bearer old", "Bearer new"]);
    expect(tokens.refresh).toHaveBeenCalledTimes(1);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).problem.errors).toEqual([{ field: "to", message: "same" }]);
  });
});

describe("roles", () => {
  const grants = [
    { role: "dispatcher" as const, site_id: "clinic" },
    { role: "viewer" as const, site_id: null },
  ];
  it("lets a dispatcher dispatch only at their site", () => {
    expect(canDispatch(grants, "clinic")).toBe(true);
    expect(canDispatch(grants, "bank")).toBe(false);
    expect(hasRole(grants, "viewer", "bank")).toBe(true);
    expect(isAdmin(grants)).toBe(false);
    expect(strongestRole(grants)).toBe("dispatcher");
    expect(canDispatch([{ role: "admin", site_id: null }], "anything")).toBe(true);
  });
});
