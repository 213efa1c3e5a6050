// Choosing the language: kept in the profile when logged in (so it follows the user), and on
// this browser otherwise.

import { detectLocale, setLocale, type Locale } from '../i18n';
import { updateMe } from '../api/profiles';
import { useSession } from './session';

export const STORAGE_KEY = 'iaso.language';

export function storedLanguage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export async function changeLanguage(l: Locale): Promise<void> {
  await setLocale(l);
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  const session = useSession();
  if (session.profile.value) {
    session.setProfile(await updateMe({ language: l }));
  }
}

/** After login or an account switch: the profile's language wins when it has one. */
export async function applyProfileLanguage(): Promise<void> {
  const session = useSession();
  const nav = typeof navigator !== 'undefined' ? navigator.languages : [];
  await setLocale(detectLocale(session.profile.value?.language, storedLanguage(), nav));
}
