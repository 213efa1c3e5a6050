// Start: theme and session first (so the first screen is in the right language and colours),
// then the router and the app.

import { createApp } from 'vue';
import App from './App.vue';
import { makeRouter } from './router';
import { onUnauthenticated } from './api/client';
import { detectLocale, setLocale, t } from './i18n';
import { useSession } from './stores/session';
import { loadTheme } from './stores/theme';
import { storedLanguage } from './stores/language';
import { toast } from './stores/toasts';
import './styles/base.css';

const session = useSession();
const router = makeRouter();

// Any 401 while logged in: the session ended (expired, password changed elsewhere, logged out
// in another tab). Back to the login page, then back here.
onUnauthenticated(() => {
  if (session.state.status !== 'ready') return;
  session.clear();
  toast(t('session.expired'), 'info', 6000);
  const here = router.currentRoute.value;
  if (!here.meta.public) void router.push({ name: 'login', query: { next: here.fullPath } });
});

// No top-level await: page chunks import the shell chunk, which must finish evaluating first.
async function start(): Promise<void> {
  await Promise.all([loadTheme(), session.load().catch(() => undefined)]);
  await setLocale(detectLocale(session.profile.value?.language, storedLanguage(), navigator.languages));
  const app = createApp(App);
  app.use(router);
  await router.isReady();
  app.mount('#app');
}

void start();
