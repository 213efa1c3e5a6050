// DHIS2 period strings (Iaso's `period` of a submission) for a form's period type: the periods
// a form accepts around today (`periods_before_allowed` back, `periods_after_allowed` ahead).

export type PeriodKind = 'DAY' | 'WEEK' | 'MONTH' | 'QUARTER' | 'QUARTER_NOV' | 'SIX_MONTH' | 'YEAR' | 'FINANCIAL_NOV';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The period containing `d` (UTC), or null for kinds this helper does not enumerate. */
function periodIndex(kind: PeriodKind, d: Date): { year: number; n: number } | null {
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth(); // 0-11
  switch (kind) {
    case 'MONTH':
      return { year: y, n: m };
    case 'QUARTER':
      return { year: y, n: Math.floor(m / 3) };
    case 'SIX_MONTH':
      return { year: y, n: Math.floor(m / 6) };
    case 'YEAR':
      return { year: y, n: 0 };
    default:
      return null;
  }
}

const PER_YEAR: Partial<Record<PeriodKind, number>> = { MONTH: 12, QUARTER: 4, SIX_MONTH: 2, YEAR: 1 };

function label(kind: PeriodKind, year: number, n: number): string {
  switch (kind) {
    case 'MONTH':
      return `${year}${pad(n + 1)}`;
    case 'QUARTER':
      return `${year}Q${n + 1}`;
    case 'SIX_MONTH':
      return `${year}S${n + 1}`;
    default:
      return String(year);
  }
}

/** DHIS2's week of a day: the ISO 8601 week (Monday to Sunday), `YYYYWn` of its ISO year. */
export function isoWeek(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = (day.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  // The Thursday of the same week decides the year.
  day.setUTCDate(day.getUTCDate() - dow + 3);
  const year = day.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const firstThursday = new Date(Date.UTC(year, 0, 4 - ((jan4.getUTCDay() + 6) % 7) + 3));
  const week = 1 + Math.round((day.getTime() - firstThursday.getTime()) / (7 * 86_400_000));
  return `${year}W${week}`;
}

/** The accepted periods, most recent first; empty when the kind is not enumerated here (type it). */
export function allowedPeriods(kind: PeriodKind, before: number, after: number, today = new Date()): string[] {
  if (kind === 'WEEK') {
    const out: string[] = [];
    for (let i = after; i >= -before; i--) {
      out.push(isoWeek(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 7 * i))));
    }
    return out;
  }
  if (kind === 'DAY') {
    const out: string[] = [];
    for (let i = after; i >= -before; i--) {
      const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + i));
      out.push(`${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`);
    }
    return out;
  }
  const at = periodIndex(kind, today);
  const per = PER_YEAR[kind];
  if (!at || !per) return [];
  const base = at.year * per + at.n;
  const out: string[] = [];
  for (let i = after; i >= -before; i--) {
    const k = base + i;
    out.push(label(kind, Math.floor(k / per), k % per));
  }
  return out;
}

/** An example of the period format of a kind, for the hint of a free-text input. */
export const PERIOD_EXAMPLES: Record<PeriodKind, string> = {
  DAY: '20240131',
  WEEK: '2024W5',
  MONTH: '202401',
  QUARTER: '2024Q1',
  QUARTER_NOV: '2024NovQ1',
  SIX_MONTH: '2024S1',
  YEAR: '2024',
  FINANCIAL_NOV: '2024Nov',
};
