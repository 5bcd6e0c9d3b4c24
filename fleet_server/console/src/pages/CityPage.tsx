import { useEffect, useRef, useState } from "react";
import type { Site } from "../api/types";
import { useApp, useLiveVersion } from "../context";
import { robotStatus, type LiveRobot } from "../live/model";
import { fitZoom, lonLatToWorld, metresPerPixel, tilesFor, tileUrl } from "../map/geo";
import { niceScaleLength } from "../map/transform";
import { Link, navigate } from "../router";
import { HttpAlarmsApi } from "../alarms/api";
import { emergencyBanners, HttpCityFeedsApi, summariseFeeds, type FeedStatus, type SiteEmergency } from "../city/feeds";

interface Counts {
  online: number;
  busy: number;
  charging: number;
  offline: number;
}

/** Robots of a site: by site id when the live record carries it, else by level name. */
function countsFor(site: Site, robots: Iterable<LiveRobot>): Counts {
  const levels = new Set(site.levels.map((l) => l.name));
  const counts: Counts = { online: 0, busy: 0, charging: 0, offline: 0 };
  for (const r of robots) {
    const here = r.site_id ? r.site_id === site.id : levels.has(r.pose?.map_id ?? "");
    if (!here) continue;
    const status = robotStatus(r);
    if (status === "offline") counts.offline += 1;
    else {
      counts.online += 1;
      if (status === "busy") counts.busy += 1;
      if (status === "charging") counts.charging += 1;
    }
  }
  return counts;
}

function useSize(): [React.RefObject<HTMLDivElement | null>, { width: number; height: number }] {
  const ref = useRef<HTMLDivElement | null>(null);
  const [size, setSize] = useState({ width: 800, height: 500 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setSize({ width: el.clientWidth, height: el.clientHeight }));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, size];
}

/** Open (unacknowledged) alarms per site, re-read every 10 s; empty without an alarms API. */
function useOpenAlarmCounts(): Map<string, number> {
  const { client } = useApp();
  const [counts, setCounts] = useState(new Map<string, number>());
  useEffect(() => {
    const api = new HttpAlarmsApi(client);
    let cancelled = false;
    const load = () =>
      api
        .list({ includeAcknowledged: false, limit: 200 })
        .then((alarms) => {
          if (cancelled) return;
          const next = new Map<string, number>();
          for (const a of alarms ?? []) if (a.site_id) next.set(a.site_id, (next.get(a.site_id) ?? 0) + 1);
          setCounts(next);
        })
        .catch(() => undefined);
    void load();
    const timer = setInterval(load, 10_000);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [client]);
  return counts;
}

/** Feed status and sites in emergency, re-read every 5 s; null where the server has none. */
function useCityFeeds(): { feeds: FeedStatus | null; emergencies: SiteEmergency[] } {
  const { client } = useApp();
  const [feeds, setFeeds] = useState<FeedStatus | null>(null);
  const [emergencies, setEmergencies] = useState<SiteEmergency[]>([]);
  useEffect(() => {
    const api = new HttpCityFeedsApi(client);
    let cancelled = false;
    const load = () => {
      api.feedStatus().then((s) => !cancelled && setFeeds(s), () => undefined);
      api.emergencies().then((e) => !cancelled && setEmergencies(e ?? []), () => undefined);
    };
    load();
    const timer = setInterval(load, 5_000);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [client]);
  return { feeds, emergencies };
}

function FeedPanel({ status }: { status: FeedStatus }) {
  const { t } = useApp();
  const summary = summariseFeeds(status);
  return (
    <section className="city-feeds" data-testid="city-feeds">
      <h2>{t("city.feeds.title")}</h2>
      <p>
        <span data-testid="feeds-summary">{t("city.feeds.summary", { healthy: summary.healthy, failing: summary.failing, dead: summary.deadLetters })}</span>
        {" · "}
        <span className={`bridge bridge-${summary.bridge}`} data-testid="feeds-bridge">{t(`city.feeds.bridge.${summary.bridge}`)}</span>
      </p>
      {summary.webhooks.length === 0 ? (
        <p className="muted">{t("city.feeds.none")}</p>
      ) : (
        <ul>
          {summary.webhooks.map((w) => (
            <li key={w.id} className={w.healthy ? "webhook-ok" : "webhook-failing"} data-testid={`webhook-${w.id}`}>
              <strong>{w.name}</strong> {!w.enabled ? t("city.feeds.disabled") : w.healthy ? t("city.feeds.healthy") : t("city.feeds.failing", { n: w.consecutive_failures })}
              {w.dead_letters > 0 && <em> · {t("city.feeds.deadLetters", { n: w.dead_letters })}</em>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function CityPage() {
  const { t, sites, live, config } = useApp();
  const alarmCounts = useOpenAlarmCounts();
  const { feeds, emergencies } = useCityFeeds();
  const banners = emergencyBanners(emergencies, new Map(sites.map((s) => [s.id, s.name])));
  const inEmergency = new Set(banners.map((b) => b.siteId));
  useLiveVersion(live, 1000);
  const [ref, size] = useSize();
  const placed = sites.filter((s) => s.geo_anchor);
  const unplaced = sites.filter((s) => !s.geo_anchor);
  const anchors = placed.map((s) => s.geo_anchor as [number, number]);
  const zoom = Math.min(fitZoom(anchors, size.width, size.height), 17);
  const world = anchors.map(([lon, lat]) => lonLatToWorld(lon, lat, zoom));
  const cx = world.length ? (Math.min(...world.map((p) => p[0])) + Math.max(...world.map((p) => p[0]))) / 2 : 0;
  const cy = world.length ? (Math.min(...world.map((p) => p[1])) + Math.max(...world.map((p) => p[1]))) / 2 : 0;
  const x0 = cx - size.width / 2;
  const y0 = cy - size.height / 2;
  const centreLat = anchors.length ? anchors.reduce((s, a) => s + a[1], 0) / anchors.length : 0;
  const mpp = metresPerPixel(centreLat, zoom);
  const scaleM = niceScaleLength(mpp * 150);
  const robots = [...live.robots.values()];
  return (
    <div className="page city">
      <h1>{t("city.title")}</h1>
      {banners.map((b) => (
        <div key={b.siteId} className={`emergency-banner${b.clearing ? " clearing" : ""}`} role="alert" data-testid={`emergency-banner-${b.siteId}`}>
          <strong>{t(b.clearing ? "city.emergency.clearing" : "city.emergency.active", { site: b.siteName })}</strong> {b.reason}
          {b.since && <span className="muted"> · {t("city.emergency.since", { time: new Date(b.since).toLocaleTimeString() })}</span>}
        </div>
      ))}
      <p className="muted">{t("city.sites", { count: sites.length })}</p>
      <div className="city-map" ref={ref} data-testid="city-map">
        {config.map_tile_url &&
          tilesFor(x0, y0, size.width, size.height, zoom).map((tile) => (
            <img key={`${tile.z}/${tile.x}/${tile.y}/${tile.left}`} className="tile" src={tileUrl(config.map_tile_url as string, tile)} style={{ left: tile.left, top: tile.top }} alt="" />
          ))}
        {placed.map((site, i) => {
          const [x, y] = world[i] as [number, number];
          const counts = countsFor(site, robots);
          return (
            <button key={site.id} type="button" className={`site-marker kind-${site.kind}${inEmergency.has(site.id) ? " in-emergency" : ""}`} style={{ left: x - x0, top: y - y0 }} onClick={() => navigate(`/sites/${encodeURIComponent(site.id)}`)} data-testid={`site-marker-${site.id}`}>
              <strong>{site.name}</strong>
              <span>{t(`site.kind.${site.kind}`)}</span>
              <span className="counts" data-testid="site-counts">
                <em className="c-online">{t("city.robotsOnline", { n: counts.online })}</em>
                <em className="c-busy">{t("city.robotsBusy", { n: counts.busy })}</em>
                <em className="c-charging">{t("city.robotsCharging", { n: counts.charging })}</em>
                <em className="c-offline">{t("city.robotsOffline", { n: counts.offline })}</em>
                <em className="c-alarms">{t("city.alarms", { n: alarmCounts.get(site.id) ?? 0 })}</em>
              </span>
            </button>
          );
        })}
        {scaleM > 0 && (
          <div className="scale-bar" style={{ width: scaleM / mpp }}>
            <span>{scaleM >= 1000 ? `${scaleM / 1000} km` : `${scaleM} m`}</span>
          </div>
        )}
        {config.map_tile_attribution && <div className="attribution">{config.map_tile_attribution}</div>}
      </div>
      {!config.map_tile_url && <p className="muted">{t("city.basemapNone")}</p>}
      {feeds && <FeedPanel status={feeds} />}
      {unplaced.length > 0 && <p className="muted">{t("city.noGeo", { names: unplaced.map((s) => s.name).join(", ") })}</p>}
      <ul className="site-list">
        {sites.map((s) => (
          <li key={s.id}>
            <Link to={`/sites/${encodeURIComponent(s.id)}`}>{s.name}</Link> · {t(`site.kind.${s.kind}`)} · {s.levels.map((l) => l.name).join(", ")}
          </li>
        ))}
      </ul>
    </div>
  );
}
