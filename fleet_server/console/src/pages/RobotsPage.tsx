import { useEffect, useRef } from "react";
import { ErrorNote, useApp, useLiveVersion } from "../context";
import { robotKey, robotStatus } from "../live/model";
import { STATUS_COLOURS } from "../map/render";
import { formatDateTime, siteTimeZone } from "../time/format";

const HISTORY_POINTS = 120;

/** Battery history kept while the page is open (the server keeps no telemetry history yet). */
function useBatteryHistory(): Map<string, number[]> {
  const { live } = useApp();
  const history = useRef(new Map<string, number[]>());
  useEffect(() => {
    const timer = setInterval(() => {
      for (const robot of live.robots.values()) {
        if (robot.battery_charge === null || robot.battery_charge === undefined) continue;
        const key = robotKey(robot);
        const list = history.current.get(key) ?? [];
        list.push(robot.battery_charge);
        if (list.length > HISTORY_POINTS) list.shift();
        history.current.set(key, list);
      }
    }, 5000);
    return () => clearInterval(timer);
  }, [live]);
  return history.current;
}

function Sparkline({ values }: { values: number[] }) {
  if (values.length < 2) return null;
  const w = 100;
  const h = 20;
  const points = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - (v / 100) * h).toFixed(1)}`).join(" ");
  return (
    <svg width={w} height={h} className="sparkline" aria-hidden="true">
      <polyline points={points} fill="none" stroke="#1f6feb" strokeWidth="1.5" />
    </svg>
  );
}

export function RobotsPage() {
  const { t, live, language, feedStatus } = useApp();
  useLiveVersion(live, 1000);
  const history = useBatteryHistory();
  const robots = [...live.robots.values()].sort((a, b) => robotKey(a).localeCompare(robotKey(b)));
  const zone = siteTimeZone(null);
  return (
    <div className="page">
      <h1>{t("robots.title")}</h1>
      {feedStatus === "error" && <ErrorNote error={new Error(t("feed.error"))} t={t} />}
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
            <th>{t("robots.lastSeen")}</th>
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
                <td>{formatDateTime(r.last_seen, zone, language)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {robots.length === 0 && <p className="muted">{t("robots.empty")}</p>}
    </div>
  );
}
