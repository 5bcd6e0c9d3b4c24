import { useEffect, useState } from "react";
import type { Mission, MissionEvent } from "../api/types";
import { ErrorNote, Loading, useApp } from "../context";
import { Link } from "../router";
import { formatDateTime, zoneOfSite } from "../time/format";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export function MissionDetailPage({ missionId }: { missionId: string }) {
  const { t, client, language, sites } = useApp();
  const [mission, setMission] = useState<Mission | null>(null);
  const [events, setEvents] = useState<MissionEvent[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const zone = zoneOfSite(sites.find((s) => s.id === mission?.site_id));
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const [m, e] = await Promise.all([
          client.get("/api/v1/missions/{mission_id}", { path: { mission_id: missionId } }),
          client.get("/api/v1/missions/{mission_id}/events", { path: { mission_id: missionId } }),
        ]);
        if (cancelled) return;
        setMission(m);
        setEvents(e);
        setError(null);
        if (!TERMINAL.has(m.state)) timer = setTimeout(load, 2000);
      } catch (err) {
        if (!cancelled) setError(err instanceof Error ? err : new Error(String(err)));
      }
    };
    void load();
    return () => {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [client, missionId]);
  if (error) return <ErrorNote error={error} t={t} />;
  if (!mission) return <Loading t={t} />;
  return (
    <div className="page">
      <h1>{t("timeline.title", { id: mission.id.slice(0, 8) })}</h1>
      <p>
        {t(`kind.${mission.kind}`)} · {mission.site_id} · {mission.robot ?? "—"} ·{" "}
        <span className={`state state-${mission.state}`} data-testid="mission-state" data-state={mission.state}>
          {t(`state.${mission.state}`)}
        </span>
        {mission.has_report && (
          <>
            {" "}
            · <Link to={`/missions/${mission.id}/report`}>{t("missions.report")}</Link>
          </>
        )}
      </p>
      <ol className="timeline" data-testid="timeline">
        {events.map((e, i) => (
          <li key={i} className={`state-${e.to_state}`}>
            <time>{formatDateTime(e.at, zone, language)}</time>
            <strong>
              {e.from_state ? `${t(`state.${e.from_state}`)} → ` : ""}
              {t(`state.${e.to_state}`)}
            </strong>
            <span className="muted">
              {e.cause} · {e.actor}
            </span>
          </li>
        ))}
      </ol>
      <details>
        <summary>{t("timeline.spec")}</summary>
        <pre>{JSON.stringify(mission.spec, null, 2)}</pre>
      </details>
    </div>
  );
}
