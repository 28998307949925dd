"""mmids: reference implementations for the course on automatic differentiation."""
