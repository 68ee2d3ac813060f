"""Printable outputs: the monthly report (月报, XLSX and PDF) and the hazard dossier
(一患一档, PDF). The figures come from :mod:`registry.dashboard` and
:mod:`registry.campaigns`; these modules only lay them out, in Chinese first."""
