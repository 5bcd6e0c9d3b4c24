// The city overview projects WGS84 onto Web Mercator (EPSG:3857) world pixels, the frame
// XYZ basemap tiles use: at zoom z the world is 256·2^z pixels wide.

export const TILE_SIZE = 256;
const MAX_LAT = 85.05112878;
const EARTH_RADIUS_M = 6378137;

/** World pixel of (lon, lat) at zoom z. */
export function lonLatToWorld(lon: number, lat: number, zoom: number): [number, number] {
  const scale = TILE_SIZE * 2 ** zoom;
  const clamped = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat));
  const sin = Math.sin((clamped * Math.PI) / 180);
  const x = ((lon + 180) / 360) * scale;
  const y = (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale;
  return [x, y];
}

/** (lon, lat) of a world pixel at zoom z. */
export function worldToLonLat(x: number, y: number, zoom: number): [number, number] {
  const scale = TILE_SIZE * 2 ** zoom;
  const lon = (x / scale) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / scale;
  const lat = (180 / Math.PI) * Math.atan(Math.sinh(n));
  return [lon, lat];
}

/** Ground metres per pixel at a latitude and zoom. */
export function metresPerPixel(lat: number, zoom: number): number {
  return (Math.cos((lat * Math.PI) / 180) * 2 * Math.PI * EARTH_RADIUS_M) / (TILE_SIZE * 2 ** zoom);
}

/** The largest whole zoom (≤ maxZoom) at which the points fit in width × height with a margin. */
export function fitZoom(points: readonly [number, number][], width: number, height: number, margin = 60, maxZoom = 18): number {
  if (points.length === 0) return 3;
  for (let z = maxZoom; z >= 0; z--) {
    const px = points.map(([lon, lat]) => lonLatToWorld(lon, lat, z));
    const xs = px.map((p) => p[0]);
    const ys = px.map((p) => p[1]);
    if (Math.max(...xs) - Math.min(...xs) <= width - 2 * margin && Math.max(...ys) - Math.min(...ys) <= height - 2 * margin) return z;
  }
  return 0;
}

/** The tiles covering a viewport whose top-left is world pixel (x0, y0). */
export function tilesFor(x0: number, y0: number, width: number, height: number, zoom: number): { x: number; y: number; z: number; left: number; top: number }[] {
  const n = 2 ** zoom;
  const tiles = [];
  for (let ty = Math.floor(y0 / TILE_SIZE); ty * TILE_SIZE < y0 + height; ty++) {
    if (ty < 0 || ty >= n) continue;
    for (let tx = Math.floor(x0 / TILE_SIZE); tx * TILE_SIZE < x0 + width; tx++) {
      tiles.push({ x: ((tx % n) + n) % n, y: ty, z: zoom, left: tx * TILE_SIZE - x0, top: ty * TILE_SIZE - y0 });
    }
  }
  return tiles;
}

/** `https://…/{z}/{x}/{y}.png` with the numbers filled in ({s} → a, b or c). */
export function tileUrl(template: string, tile: { x: number; y: number; z: number }): string {
  return template
    .replace("{z}", String(tile.z))
    .replace("{x}", String(tile.x))
    .replace("{y}", String(tile.y))
    .replace("{s}", "abc"[(tile.x + tile.y) % 3] as string);
}
