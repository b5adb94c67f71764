"""Differential privacy: noisy statistics with a persistent privacy budget, and local DP."""
