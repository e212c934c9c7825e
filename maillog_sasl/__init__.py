"""maillog-sasl: who logged in over SMTP AUTH, from where, and what happened to their mail."""
