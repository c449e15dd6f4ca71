"""`scaffold propose-updates`: template updates as one branch and one pull request per repository.

branches.py is the git side (commit what the update changed on top of the checked-out branch and
push it to scaffold's own branch, never to the base branch, never over commits that are not
scaffold's); github.py is the GitHub API side (find, open or edit the pull request: three
requests, built as data and sent by one small client); text.py writes the commit message, the
title and the per-service report of the body.
"""
