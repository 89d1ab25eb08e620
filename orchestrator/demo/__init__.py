"""`nudgeflow demo`: a simulated onboarding story through the real pipeline."""
