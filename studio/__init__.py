"""API in One Studio: the Django project, and the team's side (who, where, how much)."""
