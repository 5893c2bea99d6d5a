package org.seqstream.pipeline.gateway;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import org.seqstream.runtime.ModelCatalog;

import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The gateway on a Vert.x HTTP server of its own, outside Quarkus: what {@code seqctl local
 * --http-port} runs. The Quarkus service mounts the same {@link GatewayRoutes} on its router.
 */
public final class GatewayServer implements AutoCloseable {
    private final Vertx vertx;
    private final Gateway gateway;
    private final HttpServer server;
    private final GatewayRoutes routes;

    private GatewayServer(Vertx vertx, Gateway gateway, HttpServer server, GatewayRoutes routes) {
        this.vertx = vertx;
        this.gateway = gateway;
        this.server = server;
        this.routes = routes;
    }

    /** Listens on {@code host:port} (0: any free port); {@code clientConfig} as for {@link Gateway}. */
    public static GatewayServer start(String host, int port, Map<String, Object> clientConfig, ModelCatalog models,
                                      GatewayRoutes.Settings settings) throws Exception {
        Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
        Gateway gateway = null;
        try {
            gateway = new Gateway(clientConfig);
            Router router = Router.router(vertx);
            GatewayRoutes routes = GatewayRoutes.mount(vertx, router, gateway, models, settings);
            Gateway g = gateway;
            router.get("/health").handler(ctx -> ctx.response().setStatusCode(g.ready() ? 200 : 503).end(g.ready() ? "ready" : "not ready"));
            HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port))
                    .requestHandler(router).listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            return new GatewayServer(vertx, gateway, server, routes);
        } catch (Exception e) {
            if (gateway != null) {
                gateway.close();
            }
            vertx.close();
            throw e;
        }
    }

    public int port() {
        return server.actualPort();
    }

    public GatewayRoutes routes() {
        return routes;
    }

    public Gateway gateway() {
        return gateway;
    }

    @Override
    public void close() {
        try {
            server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            // closing anyway
        }
        gateway.close();
        vertx.close();
    }
}
