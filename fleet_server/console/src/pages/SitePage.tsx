import { useEffect, useMemo, useState } from "react";
import type { Mission, Point, SiteGraph, Waypoint } from "../api/types";
import { Link } from "../router";
import { HttpAlarmsApi, type Alarm } from "../alarms/api";
import { canDispatch } from "../auth/roles";
import { DispatchPanel } from "../components/DispatchPanel";
import { SiteCanvas } from "../components/SiteCanvas";
import { ErrorNote, Loading, useApp, useLiveVersion, useLoad } from "../context";
import { robotKey, robotStatus, type LiveRobot } from "../live/model";
import { applyPick, emptyPatrol, type MissionForm } from "../missions/form";
import { STATUS_COLOURS, type Layers } from "../map/render";
import { levelCanvasFrame } from "../map/transform";
import { formatDateTime, zoneOfSite } from "../time/format";

// A table of hundreds of rows re-rendered twice a second would cost more than the map.
const MAX_LISTED_ROBOTS = 50;

/** The floor plan of a level as an image, fetched with the session's token. */
function usePlanImage(siteId: string, level: string, hasPlan: boolean): HTMLImageElement | null {
  const { client } = useApp();
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  useEffect(() => {
    setImage(null);
    if (!hasPlan) return;
    let url: string | null = null;
    let cancelled = false;
    client
      .fetchRaw(client.url("/api/v1/sites/{site_id}/levels/{level}/plan.png", { site_id: siteId, level }))
      .then((r) => (r.ok ? r.blob() : null))
      .then((blob) => {
        if (!blob || cancelled) return;
        url = URL.createObjectURL(blob);
        const img = new Image();
        img.onload = () => !cancelled && setImage(img);
        img.src = url;
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, siteId, level, hasPlan]);
  return image;
}

export function SitePage({ siteId }: { siteId: string }) {
  const app = useApp();
  const { t, client } = app;
  const site = app.sites.find((s) => s.id === siteId) ?? null;
  const graph = useLoad(
    (signal) => client.get("/api/v1/sites/{site_id}/graph", { path: { site_id: siteId }, signal }) as Promise<unknown> as Promise<SiteGraph>,
    [siteId],
  );
  const [levelName, setLevelName] = useState<string | null>(null);
  const [layers, setLayers] = useState<Layers>({ graph: true, zones: true, labels: true });
  // `?robot=manufacturer/serial` (from an alarm) opens the view with that robot selected.
  const [selected, setSelected] = useState<string | null>(() => new URLSearchParams(window.location.search).get("robot"));
  const [form, setForm] = useState<MissionForm>(() => emptyPatrol(siteId));
  const [fitNonce, setFitNonce] = useState(0);
  const mayDispatch = canDispatch(app.grants, siteId);

  const levels = graph.data?.levels ?? [];
  const level = levels.find((l) => l.name === levelName) ?? levels[0] ?? null;
  const image = usePlanImage(siteId, level?.name ?? "", Boolean(level?.floor_plan));
  const canvasFrame = useMemo(
    () => (level ? levelCanvasFrame(level, image ? { width: image.naturalWidth, height: image.naturalHeight } : undefined) : null),
    [level, image],
  );
  const levelNames = useMemo(() => new Set(levels.map((l) => l.name)), [levels]);
  // Robots say which site they work at once the API carries it; until then, by level name.
  const isOnSite = useMemo(
    () => (robot: LiveRobot) => (robot.site_id ? robot.site_id === siteId : levelNames.has(robot.pose?.map_id ?? "")),
    [siteId, levelNames],
  );
  useLiveVersion(app.live, 500);
  const selectedRobot = selected ? app.live.robots.get(selected) ?? null : null;
  const missionId = selectedRobot?.mission_id ?? null;
  const robotAlarms = useLoad(
    () =>
      selectedRobot
        ? new HttpAlarmsApi(client)
            .list({ siteId, robot: selectedRobot.serial_number, includeAcknowledged: true, limit: 5 })
            .catch(() => null)
        : Promise.resolve(null),
    [selected],
  );
  // The order a robot runs carries its mission's id (fleet_server/missions/runtime.py).
  const robotMission = useLoad(
    (signal) =>
      missionId
        ? client.get("/api/v1/missions/{mission_id}", { path: { mission_id: missionId }, signal }).catch(() => null)
        : Promise.resolve(null),
    [missionId],
  );
  const robotsHere = [...app.live.robots.values()].filter((r) => isOnSite(r) && r.pose?.map_id === level?.name);
  robotsHere.sort((a, b) => robotKey(a).localeCompare(robotKey(b)));

  if (graph.error) return <ErrorNote error={graph.error} t={t} />;
  if (!graph.data || !level || !canvasFrame) return <Loading t={t} />;

  const byRef = new Map<string, Waypoint>();
  for (const wp of level.waypoints) {
    byRef.set(wp.id, wp);
    if (wp.name) byRef.set(wp.name, wp);
  }
  const picks: string[] = [];
  const pickedPoints: Point[] = [];
  if (form.kind === "patrol") form.checkpoints.forEach((c) => byRef.get(c.waypoint) && picks.push(byRef.get(c.waypoint)!.id));
  if (form.kind === "disinfection") {
    for (const target of form.targets) {
      if (target.type === "waypoint" && byRef.get(target.waypoint)) picks.push(byRef.get(target.waypoint)!.id);
      if (target.type === "point" && target.level === level.name) pickedPoints.push([target.x, target.y]);
    }
  }
  if (form.kind === "guidance") for (const ref of [form.from, form.to]) if (ref && byRef.get(ref)) picks.push(byRef.get(ref)!.id);

  const zone = zoneOfSite(site);
  const route = routeOf(robotMission.data, byRef);
  return (
    <div className="site-page">
      <section className="map-column">
        <div className="toolbar">
          <h1>{site?.name ?? siteId}</h1>
          <label>
            {t("site.level")}{" "}
            <select data-testid="level" value={level.name} onChange={(e) => setLevelName(e.target.value)}>
              {levels.map((l) => (
                <option key={l.name} value={l.name}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
          {(Object.keys(layers) as (keyof Layers)[]).map((key) => (
            <label key={key} className="check">
              <input type="checkbox" checked={layers[key]} onChange={(e) => setLayers({ ...layers, [key]: e.target.checked })} />
              {t(`site.layer.${key}`)}
            </label>
          ))}
          <button type="button" onClick={() => setFitNonce((n) => n + 1)}>
            {t("site.fit")}
          </button>
          <span className="legend">
            {(["idle", "busy", "charging", "error", "offline"] as const).map((s) => (
              <span key={s}>
                <i style={{ background: STATUS_COLOURS[s] }} /> {t(`status.${s}`)}
              </span>
            ))}
          </span>
        </div>
        <SiteCanvas
          level={level}
          lifts={graph.data.lifts}
          canvasFrame={canvasFrame}
          image={image}
          store={app.live}
          isOnSite={isOnSite}
          layers={layers}
          picks={picks}
          pickedPoints={pickedPoints}
          route={route}
          selectedRobot={selected}
          onSelectRobot={setSelected}
          onPick={(point, waypoint) => mayDispatch && setForm((f) => applyPick(f, { point, waypoint, level: level.name }))}
          fitNonce={fitNonce}
        />
      </section>
      <aside className="side-column">
        {mayDispatch ? (
          <DispatchPanel siteId={siteId} graph={graph.data} form={form} setForm={setForm} />
        ) : (
          <p className="muted" data-testid="no-dispatch">
            {t("dispatch.notAllowed")}
          </p>
        )}
        <section className="card">
          <h2>{t("site.robots")}</h2>
          {selectedRobot ? (
            <RobotDetail robot={selectedRobot} mission={robotMission.data} alarms={robotAlarms.data} zone={zone} onClose={() => setSelected(null)} />
          ) : (
            <p className="muted">{t("site.noRobotSelected")}</p>
          )}
          <table className="compact" data-testid="site-robots">
            <tbody>
              {robotsHere.slice(0, MAX_LISTED_ROBOTS).map((r) => (
                <tr key={robotKey(r)} data-robot={robotKey(r)} onClick={() => setSelected(robotKey(r))} className={robotKey(r) === selected ? "selected" : ""}>
                  <td>
                    <i className="dot" style={{ background: STATUS_COLOURS[robotStatus(r)] }} /> {r.serial_number}
                  </td>
                  <td className="num" data-testid="robot-position">
                    {r.pose ? `${r.pose.x.toFixed(2)}, ${r.pose.y.toFixed(2)}` : ""}
                  </td>
                  <td className="num">{r.battery_charge !== null && r.battery_charge !== undefined ? `${Math.round(r.battery_charge)}%` : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {robotsHere.length > MAX_LISTED_ROBOTS && (
            <p className="muted">{t("site.moreRobots", { n: robotsHere.length - MAX_LISTED_ROBOTS })}</p>
          )}
        </section>
      </aside>
    </div>
  );
}

/** Waypoint ids a mission visits, in order, for drawing the selected robot's route. */
function routeOf(mission: Mission | null, byRef: Map<string, Waypoint>): string[] {
  if (!mission) return [];
  const spec = mission.spec as Record<string, unknown>;
  const refs: string[] = [];
  const add = (value: unknown) => {
    const ref = typeof value === "string" ? value : typeof value === "object" && value !== null ? (value as { waypoint?: unknown }).waypoint : null;
    if (typeof ref === "string" && byRef.has(ref)) refs.push((byRef.get(ref) as Waypoint).id);
  };
  if (Array.isArray(spec.checkpoints)) spec.checkpoints.forEach(add);
  if (Array.isArray(spec.targets)) spec.targets.forEach(add);
  add(spec.from);
  add(spec.to);
  return refs;
}

function RobotDetail(props: { robot: LiveRobot; mission: Mission | null; alarms: Alarm[] | null; zone: string; onClose: () => void }) {
  const { robot, mission, alarms, zone, onClose } = props;
  const { t, language } = useApp();
  const status = robotStatus(robot);
  return (
    <div className="robot-detail" data-testid="robot-detail">
      <div className="row spread">
        <strong>{robotKey(robot)}</strong>
        <button type="button" onClick={onClose}>
          {t("common.close")}
        </button>
      </div>
      <dl>
        <dt>{t("site.robot.state")}</dt>
        <dd>
          <i className="dot" style={{ background: STATUS_COLOURS[status] }} /> {t(`status.${status}`)} {robot.operating_mode ?? ""}
        </dd>
        <dt>{t("site.robot.battery")}</dt>
        <dd>{robot.battery_charge !== null && robot.battery_charge !== undefined ? `${robot.battery_charge.toFixed(0)} %` : t("common.none")}</dd>
        <dt>{t("site.robot.position")}</dt>
        <dd>{robot.pose ? `${robot.pose.map_id} (${robot.pose.x.toFixed(2)}, ${robot.pose.y.toFixed(2)}) ${((robot.pose.theta * 180) / Math.PI).toFixed(0)}°` : t("common.none")}</dd>
        <dt>{t("site.robot.mission")}</dt>
        <dd>
          {mission ? (
            <Link to={`/missions/${mission.id}`}>
              {t(`kind.${mission.kind}`)} · {t(`state.${mission.state}`)}
            </Link>
          ) : (
            robot.mission_id ?? t("common.none")
          )}
        </dd>
        <dt>{t("site.robot.lastSeen")}</dt>
        <dd>{formatDateTime(robot.last_seen, zone, language)}</dd>
      </dl>
      {alarms && alarms.length > 0 && (
        <>
          <strong>{t("site.robot.alarms")}</strong>
          <ul className="robot-alarms" data-testid="robot-alarms">
            {alarms.map((a) => (
              <li key={String(a.id)} className={`severity-${a.severity}`}>
                {formatDateTime(a.raised_at, zone, language)} {t(`severity.${a.severity}`)}: {a.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {robot.errors && robot.errors.length > 0 && (
        <ul className="field-errors">
          {robot.errors.map((e, i) => (
            <li key={i}>
              {e.level} {e.type} {e.description ?? ""}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
