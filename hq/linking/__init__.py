"""The linking engine: cases that share perpetrator-side evidence become one multi-episode case.

Rules (README, "Linking rules"), in one place (`rules.py`):
- only `suspect` mentions link; victim and witness mentions never do;
- strong kinds link on their own; weak kinds (IP, a big platform's bare domain) never do;
- phones link unless they are hubs: a phone used by more than `hub_threshold` otherwise
  unrelated core groups (groups tied by strong non-phone evidence) stops linking;
- excluded identifiers ("not evidence") never link; split cuts keep two sides apart.
The result is a function of the data only, so arrival order cannot change it.
"""
