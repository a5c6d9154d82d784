"""Predictive remediation: promcast's own alerts from Alertmanager turned into bounded Kubernetes actions.

``config`` (the remediation.yaml contract), ``policy`` (pure decisions: which object, which change, is it
allowed now), ``kube`` (the official Kubernetes client, reads and merge patches), ``audit`` (one JSON
line per decision), ``remediator`` (the three together, with cooldowns and a rate limit) and ``app``
(the Alertmanager webhook receiver).
"""
