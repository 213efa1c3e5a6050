import { describe, expect, it } from 'vitest';
import { allowedPeriods, isoWeek } from '../src/utils/periods';

describe('allowedPeriods', () => {
  const today = new Date(Date.UTC(2024, 0, 15));
  it('counts quarters across a year boundary, most recent first', () => {
    expect(allowedPeriods('QUARTER', 2, 1, today)).toEqual(['2024Q2', '2024Q1', '2023Q4', '2023Q3']);
  });
  it('writes months with two digits', () => {
    expect(allowedPeriods('MONTH', 1, 0, today)).toEqual(['202401', '202312']);
  });
  it('lists days and years', () => {
    expect(allowedPeriods('DAY', 1, 0, today)).toEqual(['20240115', '20240114']);
    expect(allowedPeriods('YEAR', 0, 1, today)).toEqual(['2025', '2024']);
    expect(allowedPeriods('SIX_MONTH', 1, 0, today)).toEqual(['2024S1', '2023S2']);
  });
  it('lists ISO weeks, across a year boundary', () => {
    expect(allowedPeriods('WEEK', 2, 1, today)).toEqual(['2024W4', '2024W3', '2024W2', '2024W1']);
    expect(allowedPeriods('WEEK', 1, 0, new Date(Date.UTC(2021, 0, 3)))).toEqual(['2020W53', '2020W52']);
    expect(isoWeek(new Date(Date.UTC(2019, 11, 30)))).toBe('2020W1');
    expect(isoWeek(new Date(Date.UTC(2024, 11, 29)))).toBe('2024W52');
  });
  it('leaves the other kinds to typing', () => {
    expect(allowedPeriods('QUARTER_NOV', 2, 0, today)).toEqual([]);
  });
});
