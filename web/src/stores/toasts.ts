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
  // The same message again replaces the old one; at most three at a time.
  const same = toasts.findIndex((x) => x.text === text);
  if (same >= 0) toasts.splice(same, 1);
  toasts.push({ id, kind, text });
  if (toasts.length > 3) toasts.splice(0, toasts.length - 3);
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}
