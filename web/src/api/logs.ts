// /api/logs/: the audit trail of an object (an org unit's history).

import { api } from './client';

export interface FieldChange {
  before: unknown;
  after: unknown;
}

export interface LogEntry {
  id: number;
  source: string;
  created_at: string;
  user: { user_name: string; first_name: string; last_name: string } | null;
  field_diffs: {
    added: Record<string, FieldChange>;
    removed: Record<string, FieldChange>;
    modified: Record<string, FieldChange>;
  };
}

export async function orgUnitHistory(id: number, page: number, limit = 20, signal?: AbortSignal) {
  return api.get<{ count: number; list: LogEntry[]; pages: number; page: number }>('/api/logs/', {
    query: { contentType: 'iaso.orgunit', objectId: id, fields: 'field_diffs', limit, page, order: '-created_at' },
    signal,
  });
}
