import { describe, expect, it } from 'vitest';
import { allowedPeriods } from '../src/utils/periods';

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
  it('leaves the other kinds to typing', () => {
    expect(allowedPeriods('WEEK', 2, 0, today)).toEqual([]);
  });
});
