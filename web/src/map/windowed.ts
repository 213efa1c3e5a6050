// A map whose features are loaded from the API for the visible box (the map modes of org units
// and submissions): at most `limit` items a load, reloaded when the view leaves the loaded box or
// the last load was cut at the limit, the first load fitted into view. The component adds its
// layers and turns API items into features; this keeps the state, the requests and the map's
// life cycle in one place.
import { onBeforeUnmount, onMounted, ref, watch, type Ref } from 'vue';
import type Feature from 'ol/Feature';
import type { Geometry } from 'ol/geom';
import { transformExtent } from 'ol/proj';
import { containsExtent, createEmpty, extend, isEmpty } from 'ol/extent';
import { describeError } from '../utils/errors';
import { createMap, storeBackground, storedBackground, type Background, type BaseMap } from './base';

/** West, south, east, north in degrees. */
export type LonLatBox = [number, number, number, number];

export interface WindowedMapOptions {
  el: Ref<HTMLElement | null>;
  limit: number;
  /** Loads the items of the box (the whole filter when null) and shows them; returns how many
   * items came and the features to fit the first view to. */
  fetch: (box: LonLatBox | null, signal: AbortSignal) => Promise<{ count: number; features: Feature<Geometry>[] }>;
  /** Adds the component's layers and listeners once the map exists. */
  setup: (base: BaseMap) => void;
  /** What the features depend on: a change reloads the whole filter and fits again. */
  filters: () => unknown;
  /** Called before a reload caused by `filters` (e.g. to close a popup). */
  onFiltersChange?: () => void;
  fitPadding?: number;
}

export function useWindowedMap(o: WindowedMapOptions) {
  const loading = ref(false);
  const error = ref<string | null>(null);
  const shown = ref(0);
  const truncated = ref(false);
  const background = ref<Background>(storedBackground());
  const offline = ref(false);
  let base: BaseMap | null = null;
  let controller: AbortController | null = null;
  let loadedExtent: number[] | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let firstLoad = true;

  function lonLatBox(extent: number[]): LonLatBox {
    const b = transformExtent(extent, 'EPSG:3857', 'EPSG:4326') as LonLatBox;
    return [Math.max(-180, b[0]), Math.max(-90, b[1]), Math.min(180, b[2]), Math.min(90, b[3])];
  }

  async function load(extent: number[] | null): Promise<void> {
    controller?.abort();
    const c = new AbortController();
    controller = c;
    loading.value = true;
    error.value = null;
    try {
      const { count, features } = await o.fetch(extent ? lonLatBox(extent) : null, c.signal);
      if (c.signal.aborted) return;
      shown.value = count;
      truncated.value = count >= o.limit;
      loadedExtent = extent;
      if (firstLoad && base) {
        firstLoad = false;
        const all = createEmpty();
        for (const f of features) {
          const g = f.getGeometry();
          if (g) extend(all, g.getExtent());
        }
        const p = o.fitPadding ?? 40;
        if (!isEmpty(all)) base.map.getView().fit(all, { padding: [p, p, p, p], maxZoom: 14 });
      }
    } catch (e) {
      if (c.signal.aborted || (e instanceof DOMException && e.name === 'AbortError')) return;
      error.value = describeError(e);
    } finally {
      if (controller === c) loading.value = false;
    }
  }

  /** After the view moved: reload the visible box when the last load was cut at the limit or
   * does not cover it. */
  function onMoveEnd(): void {
    if (!base || firstLoad) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!base) return;
      const extent = base.map.getView().calculateExtent(base.map.getSize());
      const covered = !truncated.value && (loadedExtent === null || containsExtent(loadedExtent, extent));
      if (!covered) void load(extent);
    }, 300);
  }

  function setBackground(b: Background): void {
    background.value = b;
    storeBackground(b);
    base?.tiles.setVisible(b === 'osm');
  }

  onMounted(() => {
    if (!o.el.value) return;
    base = createMap(o.el.value, background.value);
    base.onTileError(() => (offline.value = true));
    o.setup(base);
    base.map.on('moveend', onMoveEnd);
    void load(null);
  });

  watch(o.filters, () => {
    o.onFiltersChange?.();
    firstLoad = true;
    void load(null);
  });

  onBeforeUnmount(() => {
    controller?.abort();
    clearTimeout(timer);
    base?.map.setTarget(undefined);
    base = null;
  });

  return {
    loading,
    error,
    shown,
    truncated,
    background,
    offline,
    setBackground,
    /** Loads the whole filter again (the retry button). */
    reload: () => load(null),
    /** The map, once mounted. */
    map: () => base,
  };
}
