import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";

import { SignIn } from "./SignIn";

afterEach(cleanup);

describe("SignIn", () => {
  it("asks to log in, says why when there is a reason, and starts the login", async () => {
    let started = 0;
    render(<SignIn service="orders" message="You are logged out." logIn={() => (started += 1)} />);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Items of orders");
    expect(screen.getByRole("alert").textContent).toBe("You are logged out.");
    await userEvent.setup().click(screen.getByRole("button", { name: "Log in" }));
    expect(started).toBe(1);
  });

  it("shows no alert without a reason", () => {
    render(<SignIn service="orders" logIn={() => undefined} />);
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
