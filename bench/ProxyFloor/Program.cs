// Two reference proxies for bench/proxy.sh --floor, each round-robin over the given backends on 127.0.0.1:
//
//   http PORT BACKEND,BACKEND   Kestrel's HTTP/1.1 server and one pooled SocketsHttpHandler, and nothing else: each
//                               request is copied to a backend and its response back (no YARP, no rules, no
//                               headers added, no metrics, no access log). What any proxy built on Kestrel and
//                               HttpClient costs at least.
//   tcp PORT BACKEND,BACKEND    Kestrel's connection layer relaying bytes: each client connection gets one backend
//                               connection for its life, no HTTP parsing at all. What .NET's sockets cost at least,
//                               i.e. the floor of an HTTP/1.1 forwarding path written on Kestrel's transport.
//   epoll PORT BACKEND,BACKEND  An HTTP/1.1 proxy on event loops of its own (EventLoopProxy.cs): one thread per core,
//                               epoll and libc sockets, no Kestrel, thread pool or tasks. What HAProxy's design costs
//                               in .NET.
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

if (args.Length != 3 || args[0] is not ("http" or "tcp" or "epoll") || !int.TryParse(args[1], out var port))
{
    Console.Error.WriteLine("usage: ProxyFloor http|tcp|epoll PORT BACKEND_PORT[,BACKEND_PORT...]");
    return 2;
}

var backends = args[2].Split(',').Select(int.Parse).ToArray();
var next = -1;
if (args[0] == "epoll")
{
    EventLoopProxy.Run(port, backends);
    return 0;
}

int NextBackend() => backends[(int)((uint)Interlocked.Increment(ref next) % (uint)backends.Length)];

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    if (args[0] == "tcp")
    {
        kestrel.Listen(IPAddress.Loopback, port, listen => listen.Run(async connection =>
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, NextBackend());
            await using var backend = new NetworkStream(socket, ownsSocket: false);
            var up = connection.Transport.Input.CopyToAsync(backend);
            var down = PipeReader.Create(backend).CopyToAsync(connection.Transport.Output);
            await Task.WhenAny(up, down);
        }));
    }
    else
    {
        kestrel.Listen(IPAddress.Loopback, port);
    }
});

var app = builder.Build();
using var client = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    UseCookies = false,
    ActivityHeadersPropagator = null,
});
if (args[0] == "http")
{
    app.Run(async context =>
    {
        var request = context.Request;
        using var upstream = new HttpRequestMessage(new HttpMethod(request.Method), $"http://127.0.0.1:{NextBackend()}{request.Path}{request.QueryString}");
        using var response = await client.SendAsync(upstream, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var header in response.Headers.Concat(response.Content.Headers))
        {
            context.Response.Headers[header.Key] = header.Value.ToArray();
        }

        // Kestrel frames the body itself (chunked, or by the copied Content-Length).
        context.Response.Headers.TransferEncoding = default;
        await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    });
}

await app.RunAsync();
return 0;
