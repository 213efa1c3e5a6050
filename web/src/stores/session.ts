// Who is logged in: the `/api/profiles/me/` answer, loaded at start and after login, account
// switch and profile changes. Pages read it through `useSession()`.

import { computed, reactive } from 'vue';
import * as authApi from '../api/auth';
import { switchAccount as switchAccountApi } from '../api/accounts';
import { fetchMe, type Me, type Profile } from '../api/profiles';
import { ApiError } from '../api/client';

export type SessionStatus = 'unknown' | 'anonymous' | 'ready';

const state = reactive<{ status: SessionStatus; me: Me | null }>({ status: 'unknown', me: null });

function isProfile(me: Me | null): me is Profile {
  return !!me && me.account !== null && 'permissions' in me;
}

/** Reloads the current user; anonymous on 401. */
async function load(): Promise<void> {
  try {
    state.me = await fetchMe();
    state.status = 'ready';
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      state.me = null;
      state.status = 'anonymous';
      return;
    }
    throw e;
  }
}

async function login(username: string, password: string): Promise<void> {
  await authApi.login(username, password);
  await load();
}

async function logout(): Promise<void> {
  try {
    await authApi.logout();
  } finally {
    clear();
  }
}

function clear(): void {
  state.me = null;
  state.status = 'anonymous';
}

async function switchAccount(accountId: number): Promise<void> {
  await switchAccountApi(accountId);
  await load();
}

function hasAny(codes: readonly string[] | undefined): boolean {
  if (!codes || codes.length === 0) return true;
  const me = state.me;
  if (!me) return false;
  if (me.is_superuser) return true;
  if (!isProfile(me)) return false;
  return codes.some((c) => me.permissions.includes(c));
}

const profile = computed<Profile | null>(() => (isProfile(state.me) ? state.me : null));

export function useSession() {
  return {
    state,
    profile,
    load,
    login,
    logout,
    clear,
    switchAccount,
    hasAny,
    setProfile(p: Profile) {
      state.me = p;
    },
  };
}

export type Session = ReturnType<typeof useSession>;
