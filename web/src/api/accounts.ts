// /api/accounts/switch/: work in another account of the same login.

import { api } from './client';

export const switchAccount = (accountId: number) => api.post<void>('/api/accounts/switch/', { account_id: accountId });
