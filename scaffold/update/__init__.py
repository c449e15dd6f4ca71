"""`scaffold update`: the machinery that moves services to a newer template version.

plan.py computes one target's update in temporary directories (render the old and the new
version, three-way merge with the service's committed files, run the template's migrations) and
returns every change as data; apply.py writes the plans of a run in one transaction. Planning runs
in parallel processes; nothing touches the meta-project until every plan is known.
"""
