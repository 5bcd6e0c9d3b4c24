import { useEffect, useState } from "react";
import { ApiError, fieldErrorsFor, type FieldError } from "../api/problem";
import type { components } from "../api/schema.gen";
import { isAdmin } from "../auth/roles";
import { FieldErrors } from "../components/FieldErrors";
import { ErrorNote, useApp, useLiveVersion } from "../context";
import { robotKey, robotStatus, type LiveRobot } from "../live/model";
import { STATUS_COLOURS } from "../map/render";
import { formatDateTime, zoneOfSite } from "../time/format";

type Capability = components["schemas"]["Capability"];
type Registered = components["schemas"]["RobotRegistered"];

const CAPABILITIES: Capability[] = ["patrol", "uv_disinfection", "spray_disinfection", "guidance", "reception"];
const HISTORY_MINUTES = 30;
const MAX_SPARKLINES = 50;

/** Battery over the last half hour from the server's telemetry history. */
function useBatteryHistory(robots: LiveRobot[]): Map<string, number[]> {
  const { client } = useApp();
  const [history, setHistory] = useState(new Map<string, number[]>());
  const keys = robots.slice(0, MAX_SPARKLINES).map(robotKey).join(",");
  useEffect(() => {
    let cancelled = false;
    const load = async () => {
      const since = new Date(Date.now() - HISTORY_MINUTES * 60_000).toISOString();
      const next = new Map<string, number[]>();
      await Promise.all(
        keys
          .split(",")
          .filter(Boolean)
          .map(async (key) => {
            const [manufacturer, serial_number] = key.split("/") as [string, string];
            try {
              const answer = await client.get("/api/v1/robots/{manufacturer}/{serial_number}/telemetry", {
                path: { manufacturer, serial_number },
                query: { since, max_points: 60 },
              });
              next.set(key, answer.points.flatMap((p) => (p.battery === null || p.battery === undefined ? [] : [p.battery])));
            } catch {
              // An unregistered robot has no history; its row shows no sparkline.
            }
          }),
      );
      if (!cancelled) setHistory(next);
    };
    void load();
    const timer = setInterval(load, 30_000);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [client, keys]);
  return history;
}

function Sparkline({ values }: { values: number[] }) {
  if (values.length < 2) return null;
  const w = 100;
  const h = 20;
  const points = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - (v / 100) * h).toFixed(1)}`).join(" ");
  return (
    <svg width={w} height={h} className="sparkline" aria-hidden="true" data-testid="sparkline">
      <polyline points={points} fill="none" stroke="#1f6feb" strokeWidth="1.5" />
    </svg>
  );
}

function RegisterRobot({ onDone }: { onDone: () => void }) {
  const { t, client, sites } = useApp();
  const [form, setForm] = useState({ manufacturer: "", serial_number: "", kind: "service_robot", site_id: sites[0]?.id ?? "", capabilities: ["patrol"] as Capability[] });
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [registered, setRegistered] = useState<Registered | null>(null);
  const grouped = fieldErrorsFor(errors, ["manufacturer", "serial_number", "kind", "site_id", "capabilities"]);
  const submit = async () => {
    setErrors([]);
    try {
      setRegistered(await client.post("/api/v1/robots", { json: form }));
      onDone();
    } catch (e) {
      setErrors(e instanceof ApiError ? (e.problem.errors.length ? e.problem.errors : [{ field: "", message: e.message }]) : [{ field: "", message: String(e) }]);
    }
  };
  const text = (key: "manufacturer" | "serial_number" | "kind", label: string) => (
    <label className="field">
      <span>{label}</span>
      <input value={form[key]} onChange={(e) => setForm({ ...form, [key]: e.target.value })} data-testid={`register-${key}`} />
      <FieldErrors errors={grouped.get(key)} />
    </label>
  );
  return (
    <section className="card">
      <h2>{t("robots.register")}</h2>
      <div className="row">
        {text("manufacturer", t("robots.manufacturer"))}
        {text("serial_number", t("robots.serial"))}
        {text("kind", t("robots.kind"))}
        <label className="field">
          <span>{t("missions.site")}</span>
          <select value={form.site_id} onChange={(e) => setForm({ ...form, site_id: e.target.value })}>
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
          <FieldErrors errors={grouped.get("site_id")} />
        </label>
      </div>
      <fieldset>
        <legend>{t("robots.capabilities")}</legend>
        {CAPABILITIES.map((c) => (
          <label key={c} className="check">
            <input
              type="checkbox"
              checked={form.capabilities.includes(c)}
              onChange={(e) => setForm({ ...form, capabilities: e.target.checked ? [...form.capabilities, c] : form.capabilities.filter((x) => x !== c) })}
            />
            {t(`capability.${c}`)}
          </label>
        ))}
        <FieldErrors errors={grouped.get("capabilities")} />
      </fieldset>
      <FieldErrors errors={grouped.get("")} />
      <button type="button" className="primary" onClick={submit} data-testid="register-submit">
        {t("robots.register")}
      </button>
      {registered && (
        <p className="notice" data-testid="register-credentials">
          {t("robots.credentials", { username: registered.mqtt_username })} <code>{registered.mqtt_password}</code>
        </p>
      )}
    </section>
  );
}

export function RobotsPage() {
  const { t, live, language, feedStatus, grants, client, sites } = useApp();
  useLiveVersion(live, 1000);
  const [error, setError] = useState<string | null>(null);
  const robots = [...live.robots.values()].sort((a, b) => robotKey(a).localeCompare(robotKey(b)));
  const history = useBatteryHistory(robots);
  const zoneOf = (siteId: string | null | undefined) => zoneOfSite(sites.find((s) => s.id === siteId));
  const admin = isAdmin(grants);
  const decommission = async (robot: LiveRobot) => {
    if (!window.confirm(t("robots.confirmDecommission", { robot: robotKey(robot) }))) return;
    try {
      await client.post("/api/v1/robots/{manufacturer}/{serial_number}/decommission", {
        path: { manufacturer: robot.manufacturer, serial_number: robot.serial_number },
      });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="page">
      <h1>{t("robots.title")}</h1>
      {feedStatus === "error" && <ErrorNote error={new Error(t("feed.error"))} t={t} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <table className="data" data-testid="robots-table">
        <thead>
          <tr>
            <th>{t("robots.robot")}</th>
            <th>{t("missions.site")}</th>
            <th>{t("robots.kind")}</th>
            <th>{t("site.robot.state")}</th>
            <th>{t("robots.battery")}</th>
            <th>{t("robots.history")}</th>
            <th>{t("robots.mode")}</th>
            <th>{t("robots.level")}</th>
            <th>{t("site.robot.position")}</th>
            <th>{t("robots.errors")}</th>
            <th>{t("robots.lastSeen")}</th>
            {admin && <th />}
          </tr>
        </thead>
        <tbody>
          {robots.map((r) => {
            const status = robotStatus(r);
            return (
              <tr key={robotKey(r)}>
                <td>{robotKey(r)}</td>
                <td>{r.site_id ?? "—"}</td>
                <td>{r.kind ?? "—"}</td>
                <td>
                  <i className="dot" style={{ background: STATUS_COLOURS[status] }} /> {t(`status.${status}`)}
                </td>
                <td className="num">{r.battery_charge !== null && r.battery_charge !== undefined ? `${r.battery_charge.toFixed(0)} %` : "—"}</td>
                <td>
                  <Sparkline values={history.get(robotKey(r)) ?? []} />
                </td>
                <td>{r.operating_mode ?? "—"}</td>
                <td>{r.pose?.map_id ?? "—"}</td>
                <td className="num">{r.pose ? `${r.pose.x.toFixed(2)}, ${r.pose.y.toFixed(2)}` : "—"}</td>
                <td>{(r.errors ?? []).map((e) => `${e.level} ${e.type}`).join(", ") || "—"}</td>
                <td>{formatDateTime(r.last_seen, zoneOf(r.site_id), language)}</td>
                {admin && (
                  <td>
                    <button type="button" className="danger" onClick={() => decommission(r)}>
                      {t("robots.decommission")}
                    </button>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {robots.length === 0 && <p className="muted">{t("robots.empty")}</p>}
      {admin && <RegisterRobot onDone={() => undefined} />}
    </div>
  );
}
