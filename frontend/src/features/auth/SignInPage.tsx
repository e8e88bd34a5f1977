import { useState, type FormEvent } from "react";
import { apiUrl } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useAppSelector } from "../../store";
import { useSignInMutation } from "./api";

/** Password sign-in, plus one button per configured OpenID Connect provider. */
export function SignInPage() {
  const [signIn] = useSignInMutation();
  const { busy, error, providers } = useAppSelector((state) => state.auth);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void signIn({ username, password });
  };
  return (
    <main id="main" className="signin">
      <form className="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to NanoBrain</h1>
        <label>
          Username
          <input
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorMessage message={error} />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {providers.length > 0 && (
          <div className="providers">
            <p className="muted">or</p>
            {providers.map((provider) => (
              <a
                key={provider.name}
                className="button button-quiet"
                href={apiUrl(
                  `auth/oidc/${encodeURIComponent(provider.name)}/login?return_to=${encodeURIComponent(
                    window.location.pathname,
                  )}`,
                )}
              >
                Sign in with {provider.title || provider.name}
              </a>
            ))}
          </div>
        )}
      </form>
    </main>
  );
}
