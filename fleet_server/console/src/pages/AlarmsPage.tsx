import { useEffect, useMemo, useState } from "react";
import { HttpAlarmsApi, sortAlarms, ALARMS_ENDPOINT, type Alarm } from "../alarms/api";
import { canDispatch } from "../auth/roles";
import { ErrorNote, Loading, useApp, useLiveVersion } from "../context";
import { isBatteryLow, robotKey } from "../live/model";
import { Link } from "../router";
import { formatDateTime, zoneOfSite } from "../time/format";

const POLL_MS = 3000;

export function AlarmsPage() {
  const { t, client, language, grants, live, sites } = useApp();
  const api = useMemo(() => new HttpAlarmsApi(client), [client]);
  const [alarms, setAlarms] = useState<Alarm[] | null | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [showAcked, setShowAcked] = useState(false);
  const [tick, setTick] = useState(0);
  const [comments, setComments] = useState<Record<string, string>>({});
  const zoneOf = (siteId: string | null) => zoneOfSite(sites.find((s) => s.id === siteId));
  useLiveVersion(live, 2000);

  useEffect(() => {
    let cancelled = false;
    api.list({ includeAcknowledged: showAcked }).then(
      (list) => !cancelled && (setAlarms(list), setError(null)),
      (e: unknown) => !cancelled && setError(e instanceof Error ? e : new Error(String(e))),
    );
    const timer = setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api, showAcked, tick]);

  const acknowledge = async (alarm: Alarm) => {
    try {
      await api.acknowledge(alarm.id, comments[alarm.id] ?? "");
      setTick((n) => n + 1);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  };

  const derived = [...live.robots.values()].flatMap((r) => {
    const robot = robotKey(r);
    if (!r.online) return [{ key: `${robot}:offline`, text: t("alarms.derived.offline", { robot }) }];
    if (isBatteryLow(r)) return [{ key: `${robot}:battery`, text: t("alarms.derived.battery", { robot, battery: Math.round(r.battery_charge ?? 0) }) }];
    return [];
  });

  return (
    <div className="page">
      <h1>{t("alarms.title")}</h1>
      {error && <ErrorNote error={error} t={t} />}
      {alarms === undefined && <Loading t={t} />}
      {alarms === null && (
        <>
          <p className="notice" data-testid="alarms-unavailable">
            {t("common.unavailable", { what: t("alarms.title"), endpoint: ALARMS_ENDPOINT })}
          </p>
          <p>{t("alarms.derived")}</p>
          <ul data-testid="derived-alarms">
            {derived.map((d) => (
              <li key={d.key}>{d.text}</li>
            ))}
          </ul>
        </>
      )}
      {alarms && (
        <>
          <label className="check">
            <input type="checkbox" checked={showAcked} onChange={(e) => setShowAcked(e.target.checked)} />
            {t("alarms.showAcked")}
          </label>
          <table className="data" data-testid="alarms-table">
            <thead>
              <tr>
                <th>{t("alarms.severity")}</th>
                <th>{t("alarms.raised")}</th>
                <th>{t("alarms.source")}</th>
                <th>{t("alarms.message")}</th>
                <th>{t("alarms.ack")}</th>
              </tr>
            </thead>
            <tbody>
              {sortAlarms(alarms).map((a) => (
                <tr key={a.id} data-alarm-id={a.id} data-acknowledged={a.acknowledged_at ? "yes" : "no"} className={`severity-${a.severity}`}>
                  <td>{t(`severity.${a.severity}`)}</td>
                  <td>{formatDateTime(a.raised_at, zoneOf(a.site_id), language)}</td>
                  <td>
                    {a.source}{" "}
                    {a.robot && a.site_id ? (
                      <Link to={`/sites/${encodeURIComponent(a.site_id)}?robot=${encodeURIComponent(a.robot)}`}>{a.robot}</Link>
                    ) : (
                      (a.robot ?? "")
                    )}{" "}
                    {a.location ? `${a.location.level} (${a.location.x.toFixed(1)}, ${a.location.y.toFixed(1)})` : ""}
                  </td>
                  <td>{a.message}</td>
                  <td>
                    {a.acknowledged_at ? (
                      t("alarms.acked", { user: a.acknowledged_by ?? "?", at: formatDateTime(a.acknowledged_at, zoneOf(a.site_id), language) })
                    ) : canDispatch(grants, a.site_id ?? "") ? (
                      <span className="row">
                        <input data-testid="ack-comment" placeholder={t("alarms.comment")} value={comments[a.id] ?? ""} onChange={(e) => setComments({ ...comments, [a.id]: e.target.value })} />
                        <button type="button" data-testid="ack" onClick={() => acknowledge(a)}>
                          {t("alarms.ack")}
                        </button>
                      </span>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {alarms.length === 0 && <p className="muted">{t("alarms.empty")}</p>}
        </>
      )}
    </div>
  );
}
