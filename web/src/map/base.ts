// What the dashboard's maps share (OpenLayers, loaded only with the map pages): the
// background (OpenStreetMap tiles when reachable, a plain background otherwise), styles, and
// GeoJSON in the API's projection (EPSG:4326) ↔ the map's (EPSG:3857).

import 'ol/ol.css';
import OlMap from 'ol/Map';
import View from 'ol/View';
import TileLayer from 'ol/layer/Tile';
import OSM from 'ol/source/OSM';
import GeoJSON from 'ol/format/GeoJSON';
import { defaults as defaultControls } from 'ol/control/defaults';
import ScaleLine from 'ol/control/ScaleLine';
import { Circle as CircleStyle, Fill, Stroke, Style, Text } from 'ol/style';
import type { FeatureLike } from 'ol/Feature';
import { fromLonLat } from 'ol/proj';

export const geojson = new GeoJSON({ dataProjection: 'EPSG:4326', featureProjection: 'EPSG:3857' });

const BACKGROUND_KEY = 'iaso.map.background';
export type Background = 'osm' | 'none';

export function storedBackground(): Background {
  try {
    return localStorage.getItem(BACKGROUND_KEY) === 'none' ? 'none' : 'osm';
  } catch {
    return 'osm';
  }
}
export function storeBackground(b: Background): void {
  try {
    localStorage.setItem(BACKGROUND_KEY, b);
  } catch {
    // Private mode: the choice lasts for the page only.
  }
}

export interface BaseMap {
  map: OlMap;
  tiles: TileLayer<OSM>;
  /** Called with `true` once tiles fail to load (offline): the map stays usable without them. */
  onTileError(fn: () => void): void;
}

export function createMap(target: HTMLElement, background: Background): BaseMap {
  const source = new OSM({ transition: 0 });
  const tiles = new TileLayer({ source, visible: background === 'osm', preload: 0 });
  const map = new OlMap({
    target,
    layers: [tiles],
    controls: defaultControls({ rotate: false }).extend([new ScaleLine()]),
    view: new View({ center: fromLonLat([15, 5]), zoom: 3, maxZoom: 20 }),
  });
  const listeners: (() => void)[] = [];
  let errors = 0;
  source.on('tileloaderror', () => {
    errors += 1;
    if (errors === 4) listeners.forEach((fn) => fn());
  });
  return { map, tiles, onTileError: (fn) => listeners.push(fn) };
}

function cssVar(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function colors() {
  return { primary: cssVar('--primary', '#006699'), secondary: cssVar('--secondary', '#ff7961') };
}

export function shapeStyle(color: string, width = 1.5, fill = 0.12): Style {
  return new Style({
    stroke: new Stroke({ color, width }),
    fill: new Fill({ color: withAlpha(color, fill) }),
  });
}

export function pointStyle(color: string, radius = 5): Style {
  return new Style({
    image: new CircleStyle({ radius, fill: new Fill({ color }), stroke: new Stroke({ color: '#fff', width: 1.5 }) }),
  });
}

/** One style per cluster size (cached: 10 000 points must not build 10 000 styles a frame). */
export function clusterStyler(color: string): (f: FeatureLike) => Style {
  const cache = new Map<number, Style>();
  const single = pointStyle(color, 5);
  return (f) => {
    const members = (f.get('features') as unknown[] | undefined)?.length ?? 1;
    if (members === 1) return single;
    let s = cache.get(members);
    if (!s) {
      const radius = Math.min(22, 9 + Math.log2(members) * 1.8);
      s = new Style({
        image: new CircleStyle({
          radius,
          fill: new Fill({ color: withAlpha(color, 0.85) }),
          stroke: new Stroke({ color: '#fff', width: 2 }),
        }),
        text: new Text({ text: members >= 1000 ? `${Math.round(members / 100) / 10}k` : String(members), fill: new Fill({ color: '#fff' }), font: '600 11px system-ui, sans-serif' }),
      });
      cache.set(members, s);
    }
    return s;
  };
}

export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return `color-mix(in srgb, ${color} ${Math.round(alpha * 100)}%, transparent)`;
  const n = Number.parseInt(m[1]!, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
