/** Shown when the server wants a bearer token: saves it in this browser (localStorage) and retries. */
import { useState } from 'react';
import { saveToken, savedToken } from '../api';

export function TokenForm({ onSaved }: { onSaved: () => void }) {
  const [token, setToken] = useState(savedToken() ?? '');
  return (
    <form
      className="panel"
      onSubmit={(e) => {
        e.preventDefault();
        saveToken(token.trim());
        onSaved();
      }}
    >
      <p>This server needs an access token (the one <code>kestrel serve</code> or <code>kestrel ui</code> was started with: <code>--token</code> or <code>$KESTREL_TOKEN</code>).</p>
      <label htmlFor="token">Token</label>
      <div className="row">
        <input id="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
        <button type="submit">Save and retry</button>
      </div>
    </form>
  );
}
