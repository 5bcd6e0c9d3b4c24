// What every page shares: the API client, the session, the signed-in user, the language,
// the sites the user may see and the live fleet.

import { createContext, useContext, useEffect, useMemo, useRef, useState } from "react";
import type { ApiClient } from "./api/client";
import type { ConsoleConfig, RoleGrant, Site, User } from "./api/types";
import type { Session } from "./auth/session";
import { translator, type Language, type Translate } from "./i18n/i18n";
import { DeltaCoalescer, LiveFleetStore } from "./live/coalesce";
import type { FeedStatus, LiveFeed } from "./live/feed";

export interface AppContextValue {
  client: ApiClient;
  session: Session;
  user: User;
  grants: RoleGrant[];
  language: Language;
  setLanguage: (language: Language) => void;
  t: Translate;
  sites: Site[];
  config: ConsoleConfig;
  live: LiveFleetStore;
  feedStatus: FeedStatus;
}

const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside AppProvider");
  return value;
}

export const AppProvider = AppContext.Provider;

/** The live store, fed by `feed` with deltas coalesced and applied once per animation frame. */
export function useLiveStore(feed: LiveFeed | null): { store: LiveFleetStore; status: FeedStatus } {
  const store = useMemo(() => new LiveFleetStore(), []);
  const [status, setStatus] = useState<FeedStatus>("connecting");
  useEffect(() => {
    if (!feed) return;
    const coalescer = new DeltaCoalescer();
    let frame = 0;
    const flush = () => {
      frame = 0;
      for (const message of coalescer.drain()) store.apply(message);
    };
    const stop = feed.start((message) => {
      coalescer.push(message);
      if (!frame) frame = requestAnimationFrame(flush);
    }, setStatus);
    return () => {
      stop();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [feed, store]);
  return { store, status };
}

/** Re-render every `intervalMs` while the store changed (tables need not redraw per frame). */
export function useLiveVersion(store: LiveFleetStore, intervalMs = 500): number {
  const [version, setVersion] = useState(store.version);
  const last = useRef(store.version);
  useEffect(() => {
    const timer = setInterval(() => {
      if (store.version !== last.current) {
        last.current = store.version;
        setVersion(store.version);
      }
    }, intervalMs);
    return () => clearInterval(timer);
  }, [store, intervalMs]);
  return version;
}

/** Load once per dependency change; `reload` fetches again. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): {
  data: T | null;
  error: Error | null;
  loading: boolean;
  reload: () => void;
} {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, error: null, loading: false }),
      (error: unknown) =>
        !controller.signal.aborted &&
        setState({ data: null, error: error instanceof Error ? error : new Error(String(error)), loading: false }),
    );
    return () => controller.abort();
    // The caller's deps decide when to load again; `load` is a new closure every render.
  }, [...deps, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

export function Loading({ t }: { t: Translate }) {
  return <p className="muted">{t("common.loading")}</p>;
}

export function ErrorNote({ error, t }: { error: Error; t: Translate }) {
  return (
    <p className="error" role="alert">
      {t("common.error", { detail: error.message })}
    </p>
  );
}

export function makeTranslate(language: Language): Translate {
  return translator(language);
}

