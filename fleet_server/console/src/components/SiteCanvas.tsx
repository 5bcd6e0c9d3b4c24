// The live site view: a level's plan and graph with robots drawn over it every frame.

import { useEffect, useRef } from "react";
import type { Level, Lift, Point, Waypoint } from "../api/types";
import type { LiveFleetStore } from "../live/coalesce";
import { robotKey, robotStatus, type LiveRobot } from "../live/model";
import { MotionTrack } from "../live/motion";
import { drawRobots, drawScaleBar, drawStatic, type Layers, type RobotGlyph } from "../map/render";
import {
  fitView,
  levelToScreen,
  metresPerScreenPx,
  nearest,
  niceScaleLength,
  screenToLevel,
  zoomAt,
  type LevelCanvasFrame,
  type View,
} from "../map/transform";

export interface SiteCanvasProps {
  level: Level;
  lifts: Lift[];
  canvasFrame: LevelCanvasFrame;
  image: CanvasImageSource | null;
  store: LiveFleetStore;
  /** Robots of this site, by their live record. */
  isOnSite: (robot: LiveRobot) => boolean;
  layers: Layers;
  picks: string[];
  pickedPoints: Point[];
  route: string[];
  selectedRobot: string | null;
  onSelectRobot: (key: string | null) => void;
  onPick: (point: Point, waypoint: Waypoint | null) => void;
  fitNonce: number;
}

export interface FrameStats {
  frames: number;
  drawMsTotal: number;
  drawMsMax: number;
  robotsDrawn: number;
}

declare global {
  interface Window {
    __fleetSiteStats?: FrameStats;
  }
}

const CLICK_SLOP_PX = 5;
const PICK_RADIUS_PX = 14;

export function SiteCanvas(props: SiteCanvasProps) {
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const viewRef = useRef<View | null>(null);
  const staticRef = useRef<{ canvas: HTMLCanvasElement; dirty: boolean }>({ canvas: document.createElement("canvas"), dirty: true });
  const tracks = useRef(new Map<string, MotionTrack>());
  const robotScreen = useRef<{ key: string; sx: number; sy: number }[]>([]);

  // Anything the static layer shows changed: redraw it on the next frame.
  useEffect(() => {
    staticRef.current.dirty = true;
  }, [props.level, props.image, props.layers, props.picks, props.pickedPoints, props.route, props.canvasFrame]);

  useEffect(() => {
    viewRef.current = null; // refit on level change or on request
  }, [props.level, props.canvasFrame, props.fitNonce]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    let raf = 0;
    let lastVersion = -1;
    const stats: FrameStats = { frames: 0, drawMsTotal: 0, drawMsMax: 0, robotsDrawn: 0 };
    window.__fleetSiteStats = stats;
    const glyphs: RobotGlyph[] = [];

    const frame = () => {
      raf = requestAnimationFrame(frame);
      const started = performance.now();
      const p = propsRef.current;
      const dpr = window.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = canvas.clientHeight;
      if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
        canvas.width = Math.round(width * dpr);
        canvas.height = Math.round(height * dpr);
        staticRef.current.dirty = true;
      }
      if (!viewRef.current) {
        viewRef.current = fitView(p.canvasFrame.widthPx, p.canvasFrame.heightPx, width, height);
        staticRef.current.dirty = true;
      }
      const view = viewRef.current;
      const layer = staticRef.current;
      if (layer.dirty) {
        layer.canvas.width = canvas.width;
        layer.canvas.height = canvas.height;
        const sctx = layer.canvas.getContext("2d");
        if (sctx) {
          sctx.setTransform(dpr, 0, 0, dpr, 0, 0);
          drawStatic(
            sctx,
            {
              level: p.level,
              lifts: p.lifts,
              frame: p.canvasFrame.frame,
              image: p.image,
              widthPx: p.canvasFrame.widthPx,
              heightPx: p.canvasFrame.heightPx,
              layers: p.layers,
              picks: p.picks,
              pickedPoints: p.pickedPoints,
              route: p.route,
            },
            view,
            width,
            height,
          );
          const m = metresPerScreenPx(p.canvasFrame.frame, view);
          drawScaleBar(sctx, m, niceScaleLength(m * 150), height);
        }
        canvas.dataset.view = JSON.stringify({ ...view, frame: p.canvasFrame.frame, level: p.level.name });
        canvas.dataset.plan = p.image ? "shown" : p.level.floor_plan ? "loading" : "none";
        layer.dirty = false;
      }
      const now = performance.now();
      if (p.store.version !== lastVersion) {
        lastVersion = p.store.version;
        for (const robot of p.store.robots.values()) {
          if (!robot.pose || !p.isOnSite(robot)) continue;
          const key = robotKey(robot);
          let track = tracks.current.get(key);
          if (!track) tracks.current.set(key, (track = new MotionTrack()));
          track.add({ x: robot.pose.x, y: robot.pose.y, theta: robot.pose.theta, mapId: robot.pose.map_id, t: now });
        }
      }
      glyphs.length = 0;
      const screens: { key: string; sx: number; sy: number }[] = [];
      for (const [key, track] of tracks.current) {
        const robot = p.store.robots.get(key);
        const pose = track.at(now);
        if (!robot || !pose || pose.mapId !== p.level.name || !p.isOnSite(robot)) continue;
        glyphs.push({
          x: pose.x,
          y: pose.y,
          theta: pose.theta,
          status: robotStatus(robot),
          battery: robot.battery_charge ?? null,
          kind: robot.kind ?? null,
          selected: key === p.selectedRobot,
        });
        const [sx, sy] = levelToScreen(p.canvasFrame.frame, view, pose.x, pose.y);
        screens.push({ key, sx, sy });
      }
      robotScreen.current = screens;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(layer.canvas, 0, 0);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      drawRobots(ctx, p.canvasFrame.frame, view, glyphs);
      const spent = performance.now() - started;
      stats.frames += 1;
      stats.drawMsTotal += spent;
      stats.drawMsMax = Math.max(stats.drawMsMax, spent);
      stats.robotsDrawn = glyphs.length;
    };
    raf = requestAnimationFrame(frame);
    return () => cancelAnimationFrame(raf);
  }, []);

  // Pan with the mouse, zoom with the wheel, click to pick.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    let down: { x: number; y: number; view: View } | null = null;
    let moved = false;
    const local = (e: MouseEvent): [number, number] => {
      const rect = canvas.getBoundingClientRect();
      return [e.clientX - rect.left, e.clientY - rect.top];
    };
    const onDown = (e: MouseEvent) => {
      if (!viewRef.current) return;
      const [x, y] = local(e);
      down = { x, y, view: viewRef.current };
      moved = false;
    };
    const onMove = (e: MouseEvent) => {
      if (!down) return;
      const [x, y] = local(e);
      if (Math.abs(x - down.x) + Math.abs(y - down.y) > CLICK_SLOP_PX) moved = true;
      if (moved) {
        viewRef.current = { ...down.view, offsetX: down.view.offsetX + x - down.x, offsetY: down.view.offsetY + y - down.y };
        staticRef.current.dirty = true;
      }
    };
    const onUp = (e: MouseEvent) => {
      if (!down) return;
      const wasClick = !moved;
      down = null;
      if (!wasClick || !viewRef.current) return;
      const [sx, sy] = local(e);
      const p = propsRef.current;
      const hitRobot = nearest(robotScreen.current.map((r) => ({ ...r, x: r.sx, y: r.sy })), sx, sy, PICK_RADIUS_PX);
      if (hitRobot) {
        p.onSelectRobot(hitRobot.key);
        return;
      }
      const view = viewRef.current;
      const point = screenToLevel(p.canvasFrame.frame, view, sx, sy);
      const reach = PICK_RADIUS_PX * metresPerScreenPx(p.canvasFrame.frame, view);
      const wp = nearest(p.level.waypoints, point[0], point[1], reach);
      p.onPick(point, wp);
    };
    const onWheel = (e: WheelEvent) => {
      if (!viewRef.current) return;
      e.preventDefault();
      const [x, y] = local(e);
      viewRef.current = zoomAt(viewRef.current, Math.exp(-e.deltaY * 0.0015), x, y);
      staticRef.current.dirty = true;
    };
    canvas.addEventListener("mousedown", onDown);
    window.addEventListener("mousemove", onMove);
    window.addEventListener("mouseup", onUp);
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => {
      canvas.removeEventListener("mousedown", onDown);
      window.removeEventListener("mousemove", onMove);
      window.removeEventListener("mouseup", onUp);
      canvas.removeEventListener("wheel", onWheel);
    };
  }, []);

  return <canvas ref={canvasRef} className="site-canvas" data-testid="site-canvas" />;
}
