import { mount } from 'svelte';
import './app.css';
import Root from './Root.svelte';

// The browser e2e build stands in for the Rust backend; `MODE` is replaced at build time, so
// the app's own build contains none of it.
if (import.meta.env.MODE === 'e2e') {
  const { installMockBackend } = await import('./e2e/backend');
  installMockBackend();
}

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
export default mount(Root, { target });
