import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import en from '../src/i18n/en';
import fr from '../src/i18n/fr';
import { detectLocale, format, installCatalog, setLocale, t, tMaybe } from '../src/i18n';

const placeholders = (m: string) => [...m.matchAll(/\{(\w+)\}/g)].map((x) => x[1]).sort();

describe('catalogues', () => {
  it('French has every English key, and extra keys only for server catalogues', () => {
    const missing = Object.keys(en).filter((k) => !(k in fr));
    expect(missing).toEqual([]);
    const extra = Object.keys(fr).filter((k) => !(k in en));
    expect(extra.filter((k) => !/^(flag|flagHelp)\./.test(k))).toEqual([]);
  });

  it('translations keep the placeholders and plural forms', () => {
    for (const [k, m] of Object.entries(en)) {
      const f = (fr as Record<string, string>)[k]!;
      expect(placeholders(f), k).toEqual(placeholders(m));
      expect(f.includes('|'), k).toBe(m.includes('|'));
      expect(f.trim().length, k).toBeGreaterThan(0);
    }
  });

  it('every feature flag of the server catalogue has a French name and help text', () => {
    // The catalogue is seeded by the migrations: read the codes from there.
    const dir = join(process.cwd(), '../crates/iaso-store/migrations');
    const codes = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .flatMap((f) => {
        const sql = readFileSync(join(dir, f), 'utf8');
        const at = sql.indexOf('INSERT INTO feature_flags');
        if (at < 0) return [];
        return [...sql.slice(at).matchAll(/^\('([A-Z0-9_]+)',/gm)].map((m) => m[1]!);
      });
    expect(codes.length).toBeGreaterThan(20);
    for (const c of codes) {
      expect(fr[`flag.${c}`], c).toBeTruthy();
      expect(fr[`flagHelp.${c}`], c).toBeTruthy();
    }
  });
});

describe('formatting', () => {
  it('fills placeholders and picks plural forms by locale', () => {
    expect(format('{count} user|{count} users', { count: 1 }, 'en')).toBe('1 user');
    expect(format('{count} user|{count} users', { count: 0 }, 'en')).toBe('0 users');
    expect(format('{count} rôle|{count} rôles', { count: 0 }, 'fr')).toBe('0 rôle');
    expect(format('{count} rôle|{count} rôles', { count: 1500 }, 'fr')).toMatch(/^1\s500 rôles$/);
    expect(format('Hello {name}', { name: 'Ada' }, 'en')).toBe('Hello Ada');
    expect(format('Hello {missing}', {}, 'en')).toBe('Hello {missing}');
  });

  it('translates with the current locale and falls back to English', async () => {
    installCatalog('fr', fr);
    await setLocale('fr');
    expect(t('action.save')).toBe('Enregistrer');
    expect(tMaybe('flag.GPS_TRACKING', 'GPS tracking')).toBe('Suivi GPS');
    expect(tMaybe('flag.UNKNOWN', 'Server name')).toBe('Server name');
    expect(document.documentElement.lang).toBe('fr');
    await setLocale('en');
    expect(t('action.save')).toBe('Save');
  });
});

describe('detectLocale', () => {
  it('prefers the profile, then the stored choice, then the browser', () => {
    expect(detectLocale('fr', 'en', ['en-US'])).toBe('fr');
    expect(detectLocale(null, 'fr', ['en-US'])).toBe('fr');
    expect(detectLocale(null, null, ['fr-CD', 'en'])).toBe('fr');
    expect(detectLocale('pt', null, ['de-DE', 'en-GB'])).toBe('en');
    expect(detectLocale(undefined, null, [])).toBe('en');
  });
});
