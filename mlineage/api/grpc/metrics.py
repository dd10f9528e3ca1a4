"""mlineage's MetricService over gRPC (``/mlineage.v1.MetricService/…``): metric series in and out."""

from __future__ import annotations

import grpc

from mlineage.api.grpc.service import rpc
from mlineage.api.metrics import timed_unary
from mlineage.metadata.store import Store
from mlineage.proto import metric_series_pb2 as mpb

METRIC_SERVICE = "mlineage.v1.MetricService"


class MetricServicer:
    def __init__(self, store: Store) -> None:
        self.store = store

    @rpc
    def PutMetricSeries(self, request):
        return mpb.PutMetricSeriesResponse(inserted_points=self.store.put_metric_series(request.series))

    @rpc
    def GetMetricSeries(self, request):
        series = self.store.get_metric_series(list(request.execution_ids), list(request.names))
        return mpb.GetMetricSeriesResponse(series=series)


def metric_handlers(store: Store) -> grpc.GenericRpcHandler:
    servicer = MetricServicer(store)
    service = mpb.DESCRIPTOR.services_by_name["MetricService"]
    handlers = {
        method.name: grpc.unary_unary_rpc_method_handler(
            timed_unary(f"/{METRIC_SERVICE}/{method.name}", getattr(servicer, method.name)),
            request_deserializer=getattr(mpb, method.input_type.name).FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
        for method in service.methods
    }
    return grpc.method_handlers_generic_handler(METRIC_SERVICE, handlers)
