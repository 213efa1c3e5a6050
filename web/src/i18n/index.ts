// Translations: every string the dashboard shows comes from en.ts / fr.ts (fr.ts must have every
// key of en.ts: the type check and tests/i18n.spec.ts enforce it). French is loaded on demand.
//
// `t('users.count', { count: 3 })`: `{name}` placeholders; a message with `|` has a singular
// and a plural form, chosen by `count` with the locale's plural rules.

import { ref } from 'vue';
import en from './en';

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;
export type Locale = 'en' | 'fr';
export const LOCALES: readonly Locale[] = ['en', 'fr'];
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', fr: 'Français' };

const catalogs: Partial<Record<Locale, Messages>> = { en };
const loaders: Record<Locale, () => Promise<Messages>> = {
  en: async () => en,
  fr: async () => (await import('./fr')).default,
};

export const locale = ref<Locale>('en');

export function isLocale(v: unknown): v is Locale {
  return typeof v === 'string' && (LOCALES as readonly string[]).includes(v);
}

/** The profile's language if we have it, else the one chosen on this browser, else the browser's. */
export function detectLocale(
  profileLanguage: string | null | undefined,
  stored: string | null,
  browser: readonly string[],
): Locale {
  const short = (l: string | null | undefined) => (l ?? '').toLowerCase().split(/[-_]/)[0];
  for (const candidate of [profileLanguage, stored, ...browser]) {
    const s = short(candidate);
    if (isLocale(s)) return s;
  }
  return 'en';
}

export async function setLocale(l: Locale): Promise<void> {
  if (!catalogs[l]) catalogs[l] = await loaders[l]();
  locale.value = l;
  if (typeof document !== 'undefined') document.documentElement.lang = l;
}

/** For tests and the language check: install a catalogue without loading it. */
export function installCatalog(l: Locale, messages: Messages): void {
  catalogs[l] = messages;
}

export type Params = Record<string, string | number>;

export function format(message: string, params: Params | undefined, l: Locale): string {
  let m = message;
  if (m.includes('|') && params && typeof params.count === 'number') {
    const [one, other] = m.split('|').map((s) => s.trim());
    m = new Intl.PluralRules(l).select(params.count) === 'one' ? (one ?? '') : (other ?? one ?? '');
  }
  if (!params) return m;
  return m.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    if (v === undefined) return whole;
    return typeof v === 'number' ? formatNumber(v, l) : v;
  });
}

export function t(key: MessageKey, params?: Params): string {
  const l = locale.value;
  const m = catalogs[l]?.[key] ?? en[key] ?? key;
  return format(m, params, l);
}

/** A key that may not exist (e.g. a permission code from the server): `fallback` when missing. */
export function tMaybe(key: string, fallback: string): string {
  const l = locale.value;
  const m = (catalogs[l] as Record<string, string> | undefined)?.[key] ?? (en as Record<string, string>)[key];
  return m ?? fallback;
}

export function formatNumber(n: number, l: Locale = locale.value): string {
  return new Intl.NumberFormat(l).format(n);
}

/** Epoch seconds (Iaso's timestamps) or an ISO string, as a local date and time. */
export function formatDateTime(v: number | string | null | undefined, l: Locale = locale.value): string {
  if (v === null || v === undefined || v === '') return '';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(l, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}
