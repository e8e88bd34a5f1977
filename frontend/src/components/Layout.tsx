import { useState, type ReactNode } from "react";
import { NavLink } from "react-router-dom";
import { useSignOutMutation } from "../features/auth/api";
import { isAdmin } from "../features/auth/authSlice";
import { useAppSelector } from "../store";
import { ConnectionIndicator } from "./ConnectionIndicator";
import { ThemeToggle } from "./ThemeToggle";

function Navigation({ onNavigate }: { onNavigate: () => void }) {
  const admin = useAppSelector((state) => isAdmin(state.auth));
  const links: [string, string][] = [
    ["/", "Workflows"],
    ["/history", "History"],
    ["/chat", "Chat"],
    ["/tools", "Agents & tools"],
  ];
  if (admin) links.push(["/admin", "Admin"]);
  return (
    <ul className="nav-links">
      {links.map(([to, label]) => (
        <li key={to}>
          <NavLink to={to} end={to === "/"} onClick={onNavigate}>
            {label}
          </NavLink>
        </li>
      ))}
    </ul>
  );
}

function UserMenu() {
  const [signOut] = useSignOutMutation();
  const { user, mode } = useAppSelector((state) => state.auth);
  if (mode !== "required" || !user) return null;
  return (
    <div className="user-menu">
      <span className="muted" title={`role: ${user.role}`}>
        {user.username}
      </span>
      <button type="button" className="button-quiet" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="NanoBrain home">
          <span className="brand-dot" aria-hidden="true" />
          NanoBrain
        </NavLink>
        <button
          type="button"
          className="menu-toggle button-quiet"
          aria-expanded={menuOpen}
          aria-controls="primary-navigation"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <nav id="primary-navigation" aria-label="Main" data-open={menuOpen}>
          <Navigation onNavigate={() => setMenuOpen(false)} />
        </nav>
        <div className="topbar-tools">
          <ConnectionIndicator />
          <ThemeToggle />
          <UserMenu />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
