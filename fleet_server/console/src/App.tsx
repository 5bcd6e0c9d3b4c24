import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type { ApiClient } from "./api/client";
import { ApiError } from "./api/problem";
import type { ConsoleConfig, Site, User } from "./api/types";
import type { Session } from "./auth/session";
import { strongestRole } from "./auth/roles";
import { AppProvider, ErrorNote, Loading, makeTranslate, useApp, useLiveStore, type AppContextValue } from "./context";
import { initialLanguage, LANGUAGES, type Language, type Translate } from "./i18n/i18n";
import { PollingFeed, WebSocketFeed } from "./live/feed";
import { Link, matchRoute, useLocation } from "./router";
import { AlarmsPage } from "./pages/AlarmsPage";
import { CityPage } from "./pages/CityPage";
import { LoginPage } from "./pages/LoginPage";
import { MissionDetailPage } from "./pages/MissionDetailPage";
import { MissionsPage } from "./pages/MissionsPage";
import { ReportPage } from "./pages/ReportPage";
import { RobotsPage } from "./pages/RobotsPage";
import { SchedulesPage } from "./pages/SchedulesPage";
import { SitePage } from "./pages/SitePage";

const LANGUAGE_KEY = "fleet.language";

function useLanguage(): [Language, (l: Language) => void] {
  const [language, setLanguageState] = useState<Language>(() =>
    initialLanguage(window.localStorage.getItem(LANGUAGE_KEY), navigator.languages ?? [navigator.language]),
  );
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);
  const setLanguage = (l: Language) => {
    window.localStorage.setItem(LANGUAGE_KEY, l);
    setLanguageState(l);
  };
  return [language, setLanguage];
}

export function App({ session, client }: { session: Session; client: ApiClient }) {
  const signedIn = useSyncExternalStore(
    (cb) => session.subscribe(cb),
    () => session.signedIn,
  );
  const [language, setLanguage] = useLanguage();
  const t = useMemo(() => makeTranslate(language), [language]);
  if (!signedIn) {
    return <LoginPage session={session} t={t} language={language} setLanguage={setLanguage} />;
  }
  return <SignedIn session={session} client={client} t={t} language={language} setLanguage={setLanguage} />;
}

interface Basics {
  user: User;
  sites: Site[];
  config: ConsoleConfig;
}

function SignedIn(props: {
  session: Session;
  client: ApiClient;
  t: Translate;
  language: Language;
  setLanguage: (l: Language) => void;
}) {
  const { session, client, t } = props;
  const [basics, setBasics] = useState<Basics | null>(null);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    let cancelled = false;
    Promise.all([
      client.get("/api/v1/users/me"),
      client.get("/api/v1/sites"),
      client.get("/api/v1/console-config").catch((e: unknown) => {
        // An older server without the endpoint: no basemap.
        if (e instanceof ApiError && e.status === 404) return { map_tile_url: null, map_tile_attribution: null };
        throw e;
      }),
    ]).then(
      ([user, sites, config]) => !cancelled && setBasics({ user, sites, config }),
      (e: unknown) => !cancelled && setError(e instanceof Error ? e : new Error(String(e))),
    );
    return () => {
      cancelled = true;
    };
  }, [client]);
  const siteIds = useRef<string[]>([]);
  siteIds.current = basics?.sites.map((s) => s.id) ?? [];
  const feed = useMemo(
    () => new WebSocketFeed(WebSocketFeed.liveUrl(window.location), session, () => siteIds.current, new PollingFeed(client)),
    [client, session],
  );
  const { store, status } = useLiveStore(basics ? feed : null);
  if (error) return <ErrorNote error={error} t={t} />;
  if (!basics) return <Loading t={t} />;
  const value: AppContextValue = {
    client,
    session,
    user: basics.user,
    grants: basics.user.roles,
    language: props.language,
    setLanguage: props.setLanguage,
    t,
    sites: basics.sites,
    config: basics.config,
    live: store,
    feedStatus: status,
  };
  return (
    <AppProvider value={value}>
      <Layout />
    </AppProvider>
  );
}

function LanguageSwitch({ language, setLanguage, t }: { language: Language; setLanguage: (l: Language) => void; t: Translate }) {
  return (
    <label className="lang">
      <span className="sr-only">{t("nav.language")}</span>
      <select data-testid="language" value={language} onChange={(e) => setLanguage(e.target.value as Language)} aria-label={t("nav.language")}>
        {LANGUAGES.map((l) => (
          <option key={l} value={l}>
            {l === "zh-CN" ? "中文" : "English"}
          </option>
        ))}
      </select>
    </label>
  );
}

export { LanguageSwitch };

const NAV: { to: string; key: string }[] = [
  { to: "/", key: "nav.city" },
  { to: "/missions", key: "nav.missions" },
  { to: "/robots", key: "nav.robots" },
  { to: "/alarms", key: "nav.alarms" },
  { to: "/schedules", key: "nav.schedules" },
];

function Layout() {
  const app = useApp();
  const { path } = useLocation();
  const { t } = app;
  const role = strongestRole(app.grants);
  return (
    <div className="shell">
      <header className="top">
        <strong className="brand">{t("app.title")}</strong>
        <nav>
          {NAV.map((item) => (
            <Link key={item.to} to={item.to} className={isActive(item.to, path) ? "active" : ""}>
              {t(item.key)}
            </Link>
          ))}
          {app.sites.map((site) => (
            <Link key={site.id} to={`/sites/${encodeURIComponent(site.id)}`} className={path === `/sites/${site.id}` ? "active site-link" : "site-link"}>
              {site.name}
            </Link>
          ))}
        </nav>
        <span className={`feed feed-${app.feedStatus}`} data-testid="feed-status">
          ● {t(`feed.${app.feedStatus}`)}
        </span>
        <LanguageSwitch language={app.language} setLanguage={app.setLanguage} t={t} />
        <span className="who" data-testid="who">
          {t("nav.signedInAs", { user: app.user.username, role: role ? t(`role.${role}`) : "—" })}
        </span>
        <button type="button" onClick={() => app.session.signOut()} data-testid="sign-out">
          {t("nav.signOut")}
        </button>
      </header>
      <main>
        <Routes path={path} />
      </main>
    </div>
  );
}

function isActive(to: string, path: string): boolean {
  return to === "/" ? path === "/" : path.startsWith(to);
}

function Routes({ path }: { path: string }) {
  let params: Record<string, string> | null;
  if (path === "/" || path === "/city") return <CityPage />;
  if ((params = matchRoute("/sites/:id", path))) return <SitePage key={params.id} siteId={params.id as string} />;
  if (path === "/missions") return <MissionsPage />;
  if ((params = matchRoute("/missions/:id/report", path))) return <ReportPage missionId={params.id as string} />;
  if ((params = matchRoute("/missions/:id", path))) return <MissionDetailPage missionId={params.id as string} />;
  if (path === "/robots") return <RobotsPage />;
  if (path === "/alarms") return <AlarmsPage />;
  if (path === "/schedules") return <SchedulesPage />;
  return <p>404: {path}</p>;
}

