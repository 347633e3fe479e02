using Flotilla.Proxy.Forwarding;
using Microsoft.Extensions.Primitives;

namespace Flotilla.Tests.Proxy;

public sealed class TraceContextTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string ParentSpan = "00f067aa0ba902b7";

    [Fact]
    public void Continue_AValidParent_KeepsTraceFlagsAndStateWithANewSpan()
    {
        var trace = TraceContext.Continue($"00-{TraceId}-{ParentSpan}-01", "vendor=abc");

        var parts = trace.ToTraceParent().Split('-');
        Assert.Equal(["00", TraceId], parts[..2]);
        Assert.Matches("^[0-9a-f]{16}$", parts[2]);
        Assert.NotEqual(ParentSpan, parts[2]);
        Assert.Equal("01", parts[3]);
        Assert.Equal("vendor=abc", trace.TraceState);
    }

    [Fact]
    public void Continue_AnUnsampledParent_StaysUnsampled() =>
        Assert.EndsWith("-00", TraceContext.Continue($"00-{TraceId}-{ParentSpan}-00", StringValues.Empty).ToTraceParent());

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")]
    public void Continue_NoOrAnInvalidParent_StartsANewTraceWithoutState(string? parent)
    {
        var trace = TraceContext.Continue(parent, "vendor=abc");

        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", trace.ToTraceParent());
        Assert.NotEqual(TraceId, trace.TraceId.ToHexString());
        Assert.Null(trace.TraceState);
    }

    [Fact]
    public void Continue_TwoTraceparentHeaders_StartsANewTrace() =>
        Assert.NotEqual(TraceId, TraceContext.Continue(new StringValues([$"00-{TraceId}-{ParentSpan}-01", $"00-{TraceId}-{ParentSpan}-01"]), StringValues.Empty).TraceId.ToHexString());
}
