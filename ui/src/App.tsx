/** The page frame: a skip link, the navigation between the three pages, and hash routing (#/predict, #/runs/<id>, #/label). */
import { useEffect, useState } from 'react';
import { LabelPage } from './pages/LabelPage';
import { PredictPage } from './pages/PredictPage';
import { RunsPage } from './pages/RunsPage';

type Route = { page: 'predict' } | { page: 'runs'; id: string | null } | { page: 'label' };

export function parseRoute(hash: string): Route {
  const [page, ...rest] = hash.replace(/^#\/?/, '').split('/');
  if (page === 'runs') return { page: 'runs', id: rest.length > 0 && rest.join('/') !== '' ? decodeURIComponent(rest.join('/')) : null };
  if (page === 'label') return { page: 'label' };
  return { page: 'predict' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

const PAGES = [
  { page: 'predict', href: '#/predict', label: 'Predict' },
  { page: 'runs', href: '#/runs', label: 'Runs' },
  { page: 'label', href: '#/label', label: 'Label' },
] as const;

const TITLES = { predict: 'Predict', runs: 'Training runs', label: 'Label images' };

export function App() {
  const route = useRoute();
  useEffect(() => {
    document.title = `${TITLES[route.page]} · Kestrel`;
  }, [route.page]);
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header className="top">
        <span className="brand" aria-hidden="true">Kestrel</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.page}>
                <a href={p.href} aria-current={route.page === p.page ? 'page' : undefined}>{p.label}</a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'predict' && <PredictPage />}
        {route.page === 'runs' && <RunsPage id={route.id} />}
        {route.page === 'label' && <LabelPage />}
      </main>
    </>
  );
}
