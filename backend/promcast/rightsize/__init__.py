"""Right-sizing Kubernetes containers from the forecast of their usage (``promcast rightsize``).

- :mod:`.peaks`: :class:`PeakForecaster`, hourly usage -> trend + weekly profile + upper bound;
- :mod:`.recommend`: :class:`Rightsizer`, CPU and memory requests/limits from those forecasts, and
  the risk (throttled hours, OOM) of any set of requests and limits;
- :mod:`.vpa`: the VPA recommender's method (decaying histograms, p90 + 15 %), the baseline;
- :mod:`.collect`: cAdvisor and kube-state-metrics series -> containers of workloads;
- :mod:`.report`: rows with prices, the table, the YAML patches.
"""

from .collect import Container, containers, fetch_containers, selectors
from .peaks import PeakForecaster
from .recommend import Resources, Rightsizer
from .report import Prices, format_table, format_yaml, patches, rightsize, vpas
from .vpa import DecayingHistogram, VpaRecommender

__all__ = ["Container", "DecayingHistogram", "PeakForecaster", "Prices", "Resources", "Rightsizer",
           "VpaRecommender", "containers", "fetch_containers", "format_table", "format_yaml", "patches",
           "rightsize", "selectors", "vpas"]
