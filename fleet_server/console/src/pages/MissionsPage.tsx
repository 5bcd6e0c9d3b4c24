import { useEffect, useState } from "react";
import { ApiError } from "../api/problem";
import type { Mission, MissionPage, MissionState } from "../api/types";
import { canDispatch } from "../auth/roles";
import { ErrorNote, useApp } from "../context";
import { Link } from "../router";
import { formatDateTime, zoneOfSite } from "../time/format";

const STATES: MissionState[] = ["pending", "assigned", "dispatched", "active", "paused", "completed", "failed", "cancelled"];
const KINDS = ["patrol", "disinfection", "guidance"] as const;
const POLL_MS = 2000;

interface Filters {
  site_id: string;
  state: MissionState | "";
  kind: (typeof KINDS)[number] | "";
  robot: string;
  created_after: string;
}

/** `YYYY-MM-DDTHH:MM` from a datetime-local input, as an aware ISO instant (browser zone). */
function awareInstant(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function MissionsPage() {
  const { t, client, sites, language, grants } = useApp();
  const [filters, setFilters] = useState<Filters>({ site_id: "", state: "", kind: "", robot: "", created_after: "" });
  const [missions, setMissions] = useState<Mission[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [pages, setPages] = useState(1);
  const [error, setError] = useState<Error | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const zoneOf = (siteId: string) => zoneOfSite(sites.find((s) => s.id === siteId));
  const zone = zoneOf(filters.site_id || (sites[0]?.id ?? ""));

  useEffect(() => {
    let cancelled = false;
    const load = async () => {
      const all: Mission[] = [];
      let next: string | null = null;
      // Live status: the first pages are re-read every poll.
      for (let page = 0; page < pages; page++) {
        const answer: MissionPage = await client.get("/api/v1/missions", {
          query: {
            site_id: filters.site_id || undefined,
            state: filters.state || undefined,
            kind: filters.kind || undefined,
            robot: filters.robot || undefined,
            created_after: awareInstant(filters.created_after),
            cursor: next ?? undefined,
            limit: 50,
          },
        });
        all.push(...answer.items);
        next = answer.next_cursor ?? null;
        if (!next) break;
      }
      if (!cancelled) {
        setMissions(all);
        setCursor(next);
        setError(null);
      }
    };
    load().catch((e: unknown) => !cancelled && setError(e instanceof Error ? e : new Error(String(e))));
    const timer = setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [client, filters, pages, tick]);

  const command = async (mission: Mission, action: "cancel" | "pause" | "resume") => {
    if (action === "cancel" && !window.confirm(t("missions.confirmCancel"))) return;
    setActionError(null);
    try {
      await client.post(`/api/v1/missions/{mission_id}/${action}` as "/api/v1/missions/{mission_id}/cancel", { path: { mission_id: mission.id } });
      setTick((n) => n + 1);
    } catch (e) {
      setActionError(e instanceof ApiError ? e.message : String(e));
    }
  };

  const set = (patch: Partial<Filters>) => {
    setPages(1);
    setFilters({ ...filters, ...patch });
  };
  return (
    <div className="page">
      <h1>{t("missions.title")}</h1>
      <div className="filters row">
        <label>
          {t("missions.site")}
          <select value={filters.site_id} onChange={(e) => set({ site_id: e.target.value })} data-testid="filter-site">
            <option value="">{t("common.all")}</option>
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("missions.kind")}
          <select value={filters.kind} onChange={(e) => set({ kind: e.target.value as Filters["kind"] })} data-testid="filter-kind">
            <option value="">{t("common.all")}</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kind.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("missions.state")}
          <select value={filters.state} onChange={(e) => set({ state: e.target.value as Filters["state"] })} data-testid="filter-state">
            <option value="">{t("common.all")}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {t(`state.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("missions.robot")}
          <input value={filters.robot} onChange={(e) => set({ robot: e.target.value })} data-testid="filter-robot" />
        </label>
        <label>
          {t("missions.createdAfter")}
          <input type="datetime-local" value={filters.created_after} onChange={(e) => set({ created_after: e.target.value })} />
        </label>
      </div>
      {error && <ErrorNote error={error} t={t} />}
      {actionError && (
        <p className="error" role="alert">
          {actionError}
        </p>
      )}
      <p className="muted">{t("time.zone", { zone })}</p>
      <table className="data" data-testid="missions-table">
        <thead>
          <tr>
            <th>{t("missions.created")}</th>
            <th>{t("missions.kind")}</th>
            <th>{t("missions.name")}</th>
            <th>{t("missions.site")}</th>
            <th>{t("missions.robot")}</th>
            <th>{t("missions.state")}</th>
            <th>{t("missions.actions")}</th>
          </tr>
        </thead>
        <tbody>
          {missions.map((m) => {
            const may = canDispatch(grants, m.site_id);
            return (
              <tr key={m.id} data-mission-id={m.id}>
                <td>{formatDateTime(m.created_at, zoneOf(m.site_id), language)}</td>
                <td>{t(`kind.${m.kind}`)}</td>
                <td>
                  <Link to={`/missions/${m.id}`}>{(m.spec.name as string | undefined) ?? m.id.slice(0, 8)}</Link>
                </td>
                <td>{m.site_id}</td>
                <td>{m.robot ?? "—"}</td>
                <td>
                  <span className={`state state-${m.state}`} data-testid="mission-state" data-state={m.state}>
                    {t(`state.${m.state}`)}
                  </span>
                </td>
                <td>
                  <div className="actions">
                  {may && (m.state === "active" || m.state === "dispatched") && (
                    <button type="button" onClick={() => command(m, "pause")}>
                      {t("missions.pause")}
                    </button>
                  )}
                  {may && m.state === "paused" && (
                    <button type="button" onClick={() => command(m, "resume")}>
                      {t("missions.resume")}
                    </button>
                  )}
                  {may && !["completed", "failed", "cancelled"].includes(m.state) && (
                    <button type="button" className="danger" onClick={() => command(m, "cancel")}>
                      {t("missions.cancel")}
                    </button>
                  )}
                  {m.has_report && <Link to={`/missions/${m.id}/report`}>{t("missions.report")}</Link>}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {missions.length === 0 && !error && <p className="muted">{t("missions.empty")}</p>}
      {cursor && (
        <button type="button" onClick={() => setPages((n) => n + 1)}>
          {t("missions.more")}
        </button>
      )}
    </div>
  );
}
