"""dreg."""
