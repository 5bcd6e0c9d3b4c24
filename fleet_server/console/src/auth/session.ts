// The signed-in session: OAuth2 password grant and refresh (RFC 6749 §4.3, §6) against
// /api/v1/auth/token and /api/v1/auth/refresh; tokens kept in localStorage so a reload
// or a second tab stays signed in. The access token is renewed a minute before it expires
// and once more on any 401.

import type { TokenSource } from "../api/client";
import { ApiError, parseProblem } from "../api/problem";
import type { TokenResponse } from "../api/types";

const STORAGE_KEY = "fleet.session";
const REFRESH_AHEAD_MS = 60_000;
const MIN_REFRESH_DELAY_MS = 5_000;

export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  username: string;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Tokens from a token endpoint answer received at `now`. */
export function tokensFrom(answer: TokenResponse, username: string, now: number): StoredTokens {
  return {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    expiresAt: now + answer.expires_in * 1000,
    username,
  };
}

/** When to renew: a minute before expiry (half the lifetime for short ones), not sooner than 5 s. */
export function refreshDelayMs(tokens: StoredTokens, now: number, lifetimeMs?: number): number {
  const left = tokens.expiresAt - now;
  const ahead = lifetimeMs !== undefined ? Math.min(REFRESH_AHEAD_MS, lifetimeMs / 2) : REFRESH_AHEAD_MS;
  return Math.max(MIN_REFRESH_DELAY_MS, left - ahead);
}

export function loadTokens(store: KeyValueStore): StoredTokens | null {
  const text = store.getItem(STORAGE_KEY);
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<StoredTokens>;
    if (
      typeof value.accessToken === "string" &&
      typeof value.refreshToken === "string" &&
      typeof value.expiresAt === "number" &&
      typeof value.username === "string"
    ) {
      return value as StoredTokens;
    }
  } catch {
    // A damaged entry is treated as no session.
  }
  store.removeItem(STORAGE_KEY);
  return null;
}

async function postForm(fetchImpl: typeof fetch, url: string, form: Record<string, string>): Promise<TokenResponse> {
  const response = await fetchImpl(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(parseProblem(response.status, body));
  return body as TokenResponse;
}

export class Session implements TokenSource {
  private tokens: StoredTokens | null;
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listeners = new Set<() => void>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
    private readonly now: () => number = Date.now,
    private readonly baseUrl = "",
  ) {
    this.tokens = loadTokens(store);
    this.schedule();
  }

  get username(): string | null {
    return this.tokens?.username ?? null;
  }

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  accessToken(): string | null {
    return this.tokens?.accessToken ?? null;
  }

  /** Listen for sign-in and sign-out; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signIn(username: string, password: string): Promise<void> {
    const answer = await postForm(this.fetchImpl, `${this.baseUrl}/api/v1/auth/token`, {
      grant_type: "password",
      username,
      password,
    });
    this.set(tokensFrom(answer, username, this.now()));
  }

  refresh(): Promise<boolean> {
    const current = this.tokens;
    if (!current) return Promise.resolve(false);
    // Concurrent 401s share one refresh: a refresh token may be single-use.
    this.refreshing ??= postForm(this.fetchImpl, `${this.baseUrl}/api/v1/auth/refresh`, {
      grant_type: "refresh_token",
      refresh_token: current.refreshToken,
    })
      .then((answer) => {
        this.set(tokensFrom(answer, current.username, this.now()));
        return true;
      })
      .catch((error: unknown) => {
        // Only a refused token ends the session; a network failure keeps it for a retry.
        if (error instanceof ApiError && (error.status === 400 || error.status === 401)) this.signOut();
        return false;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  signOut(): void {
    this.set(null);
  }

  private set(tokens: StoredTokens | null): void {
    this.tokens = tokens;
    if (tokens) this.store.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else this.store.removeItem(STORAGE_KEY);
    this.schedule();
    this.listeners.forEach((listener) => listener());
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.tokens) return;
    this.timer = setTimeout(() => void this.refresh(), refreshDelayMs(this.tokens, this.now()));
  }
}
