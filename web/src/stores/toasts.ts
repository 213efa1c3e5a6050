// Short confirmations ("User saved") shown in a corner for a few seconds.

import { reactive } from 'vue';

export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

export const toasts = reactive<Toast[]>([]);
let next = 1;

export function toast(text: string, kind: Toast['kind'] = 'success', ms = 4000): void {
  const id = next++;
  toasts.push({ id, kind, text });
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}
