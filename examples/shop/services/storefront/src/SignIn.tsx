interface Props {
  /** The backend's name, shown in the heading. */
  service: string;
  /** Why the person is asked to log in (again), if there is more to say than that. */
  message?: string | undefined;
  logIn: () => void;
}

/** The page before login, when the API takes tokens (AUTH_ISSUER). */
export function SignIn({ service, message, logIn }: Props) {
  return (
    <main>
      <h1>Items of {service}</h1>
      <p>Log in to see and change the items.</p>
      {message !== undefined && <p role="alert">{message}</p>}
      <button
        type="button"
        onClick={() => {
          logIn();
        }}
      >
        Log in
      </button>
    </main>
  );
}
